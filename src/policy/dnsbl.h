/* dnsbl: DNS blocklists and allowlists (RFC 5782) for connect-time
 * screening. Owns the zone-spec syntax, the query names, the reading of
 * answer codes and the score; the lookups go through struct dns.
 *
 *	dnsbl_parse("zen.spamhaus.example=127.0.0.2-127.0.0.11:5,"
 *	    "bl.example:2, list.dnswl.example=127.0.[0..255].[1..3]:-3",
 *	    &cfg, &err);
 *	s->bl = dnsbl_check(loop, dns, &cfg, "192.0.2.1", on_dnsbl, s);
 *	... on_dnsbl(const struct dnsbl_result *r, void *ctx) runs later,
 *	    once: r->score, r->listed, r->zones[i].
 *	dnsbl_cancel(s->bl) when the session goes away first.
 *
 * Zone spec: a comma-separated list of ZONE[=CODES][:WEIGHT].
 * - ZONE: a DNS name (letters, digits, '-', '_'; at least two labels, the
 *   last not numeric; a trailing dot is dropped), at most
 *   DNSBL_ZONE_NAME_MAX octets so that an IPv6 query name fits.
 * - CODES: '|'-separated items, each an IPv4 address "127.0.0.2", a range
 *   "127.0.0.2-127.0.0.11" (inclusive, compared as numbers), or a pattern
 *   whose octets may be ranges "127.0.[0..255].[1..3]". An A record
 *   counts when it matches an item. No CODES: any 127.0.0.0/8 answer
 *   counts.
 * - WEIGHT: an integer in [-DNSBL_WEIGHT_MAX, DNSBL_WEIGHT_MAX], default
 *   1. A negative weight makes the zone an allowlist (DNSWL).
 * Whatever CODES say, 127.0.0.1 never counts (RFC 5782 2.1: it is never
 * a listing) and 127.255.255.252-255 (answers public resolvers get from
 * Spamhaus: "query refused", "typo", ...) make the zone an error, as do
 * timeouts and SERVFAIL: an error never counts as listed.
 *
 * The score is the sum of the weights of the zones that list the address;
 * the address is listed when score >= threshold. Loopback, private
 * (RFC 1918, RFC 6598, fc00::/7), link-local and unspecified addresses
 * are not looked up at all (result->skipped says why); 127.0.0.0/8 and
 * ::1 are when query_loopback is set (tests play clients from there).
 * An IPv4-mapped IPv6 address is looked up as the IPv4 address.
 *
 * SECURITY: answers and TXT come from the network; TXT reasons are cut to
 * DNSBL_TXT_MAX octets and anything but printable ASCII becomes '?'. */
#ifndef MOAT_DNSBL_H
#define MOAT_DNSBL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <netinet/in.h>
#include <uv.h>

struct dns;

#define DNSBL_ZONES_MAX 16
#define DNSBL_CODES_MAX 16		/* CODES items per zone */
#define DNSBL_ZONE_NAME_MAX 180		/* + 64 for 32 nibbles < 253 */
#define DNSBL_QNAME_MAX (DNSBL_ZONE_NAME_MAX + 64)
#define DNSBL_SPEC_MAX 4096		/* the whole spec string */
#define DNSBL_WEIGHT_MAX 1000
#define DNSBL_THRESHOLD_DEFAULT 1
#define DNSBL_ANSWERS_MAX 8		/* A records kept per zone */
#define DNSBL_TXT_MAX 200		/* octets of TXT reason kept */
/* dnsbl_result_format of any result: 16 x (name, 8 codes, weight). */
#define DNSBL_FORMAT_MAX 6144

/* One CODES item: a numeric range of addresses, or per-octet bounds. */
struct dnsbl_code {
	bool		 octets;	/* per-octet bounds, not a range */
	uint32_t	 lo, hi;	/* host order, range */
	uint8_t		 olo[4], ohi[4];	/* octets */
};

struct dnsbl_zone {
	char		 name[DNSBL_ZONE_NAME_MAX + 1];	/* lower-cased */
	struct dnsbl_code codes[DNSBL_CODES_MAX];
	size_t		 ncodes;	/* 0: any 127.0.0.0/8 */
	int		 weight;
};

struct dnsbl_config {
	struct dnsbl_zone zones[DNSBL_ZONES_MAX];
	size_t		 nzones;
	/* Set by dnsbl_parse to DNSBL_THRESHOLD_DEFAULT; the caller may
	 * change it. */
	int		 threshold;
	/* Also look up 127.0.0.0/8 and ::1 (tests). Default false. */
	bool		 query_loopback;
	/* Fetch the TXT reason of blocklists (weight > 0) that list the
	 * address: one more query per listing, after the A answer, so the
	 * check can take up to twice the DNS timeout. Default false. */
	bool		 fetch_txt;
};

/* What one A record of a zone means. */
enum dnsbl_code_kind {
	DNSBL_CODE_IGNORED = 0,	/* not in CODES, or 127.0.0.1 */
	DNSBL_CODE_LISTED,	/* counts */
	DNSBL_CODE_ERROR,	/* 127.255.255.252-255: the zone refused */
};

struct dnsbl_answer {
	struct in_addr	 addr;
	char		 text[INET_ADDRSTRLEN];
	enum dnsbl_code_kind kind;
};

struct dnsbl_zone_result {
	const char	*zone;		/* the zone name */
	int		 weight;	/* as configured */
	bool		 listed;	/* an answer counted */
	bool		 error;		/* timeout, SERVFAIL, refusal */
	const char	*why;		/* error: a short reason */
	struct dnsbl_answer answers[DNSBL_ANSWERS_MAX];	/* A records */
	size_t		 nanswers;
	bool		 has_txt;
	char		 txt[DNSBL_TXT_MAX + 1];	/* sanitized */
};

struct dnsbl_result {
	const char	*ip;		/* as given */
	const char	*skipped;	/* not looked up: why; else NULL */
	int		 score;
	int		 threshold;
	bool		 listed;	/* score >= threshold */
	bool		 allowlisted;	/* by a negative weight */
	size_t		 nerrors;	/* zones with error set */
	struct dnsbl_zone_result zones[DNSBL_ZONES_MAX];
	size_t		 nzones;	/* 0 when skipped */
};

struct dnsbl_query;

/* The result and everything it points to is valid only during the call;
 * the query handle is finished when the callback runs. */
typedef void dnsbl_cb(const struct dnsbl_result *res, void *ctx);

/* Parse a zone spec into *out (zeroed first; threshold set to the
 * default, the flags false). An empty spec gives no zones. Returns 0, or
 * -1 with a static message in *error_r. */
int dnsbl_parse(const char *spec, struct dnsbl_config *out,
    const char **error_r);

/* Look ip up in every zone of cfg in parallel (cfg is copied). cb runs
 * exactly once, from the loop and never from inside this call, when all
 * zones answered, failed or timed out (struct dns bounds each query),
 * unless dnsbl_cancel() comes first. Returns NULL only when ip is not an
 * IPv4 or IPv6 address. */
struct dnsbl_query *dnsbl_check(uv_loop_t *loop, struct dns *dns,
    const struct dnsbl_config *cfg, const char *ip, dnsbl_cb *cb, void *ctx);
/* The callback will not run; outstanding queries are cancelled and the
 * memory is released once the loop has run. NULL-safe. Only for a check
 * whose callback has not run yet. */
void dnsbl_cancel(struct dnsbl_query *q);

/* The query name of ip in zone ("2.0.0.127.zone", 32 nibbles for IPv6).
 * Returns 0, or -1 when ip is not an address or out is too small. */
int dnsbl_query_name(const char *ip, const char *zone, char *out,
    size_t len);
/* What an A record addr (network order) returned by zone means. */
enum dnsbl_code_kind dnsbl_code_classify(const struct dnsbl_zone *zone,
    const struct in_addr *addr);
/* Why ip is not looked up under cfg ("loopback", "private", ...), or
 * NULL when it is; "not an address" for garbage. */
const char *dnsbl_skip_reason(const char *ip, bool query_loopback);
/* One line for logs and traces into buf:
 *   "zen.spamhaus.example=127.0.0.2(+5) bl.example=-(0) score=5"
 * an error zone shows as "zone=error(0)", a skipped lookup as
 * "skipped=private". Truncated to fit. Returns buf. */
const char *dnsbl_result_format(const struct dnsbl_result *res, char *buf,
    size_t len);

#endif
