/* dns: asynchronous DNS lookups on a libuv loop, over libunbound.
 *
 * One struct dns per process (it owns a ub_ctx and unbound's resolver
 * thread); queries are typed (MX, A, AAAA, TXT, PTR, or any type with
 * dns_query) and answered through a callback with a struct dns_result.
 * A small positive/negative cache (name + type, honouring TTLs) sits in
 * front of unbound.
 *
 * Create it in the process that uses it (after fork): unbound's thread
 * and pipe do not survive a fork.
 *
 * Guarantees:
 * - The callback runs exactly once, from the loop, never from inside the
 *   dns_query_* call (also for cache hits and invalid names), unless the
 *   query is cancelled with dns_cancel() first; then it never runs.
 * - Every query ends within dns_config.timeout_ms: on timeout the result
 *   is DNS_TEMPFAIL and unbound's late answer is cancelled.
 * - Results are bounded: at most DNS_ANSWERS_MAX records and
 *   DNS_TXT_TOTAL_MAX octets of TXT; a larger answer is DNS_PERMFAIL.
 *   Names are at most DNS_NAME_MAX octets in wire form.
 * - Names in results are in presentation form without the trailing dot
 *   (the root is "."); octets other than letters, digits, '-', '_' and
 *   '*' are escaped as \DDD, and a '.' inside a label as "\.", so result
 *   strings are always printable and safe to compare or log.
 *
 * SECURITY: answers come from the network. Without a trust anchor they
 * are not authenticated (result->secure is false); everything parsed from
 * them is length-checked here, and callers treat names and TXT as
 * untrusted text. */
#ifndef MOAT_DNS_H
#define MOAT_DNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <netinet/in.h>
#include <uv.h>

#define DNS_NAME_MAX 255		/* wire octets (RFC 1035 2.3.4) */
#define DNS_NAME_TEXT_MAX 253		/* presentation, no trailing dot */
#define DNS_QNAME_MAX (DNS_NAME_TEXT_MAX * 4 + 1)	/* with \DDD escapes */
#define DNS_ANSWERS_MAX 100		/* records in one result */
#define DNS_TXT_TOTAL_MAX 32768		/* octets of TXT in one result */
#define DNS_FORWARDERS_MAX 8

/* RR types (RFC 1035, 3596, 7208). */
#define DNS_TYPE_A 1
#define DNS_TYPE_NS 2
#define DNS_TYPE_CNAME 5
#define DNS_TYPE_SOA 6
#define DNS_TYPE_PTR 12
#define DNS_TYPE_MX 15
#define DNS_TYPE_TXT 16
#define DNS_TYPE_AAAA 28
#define DNS_TYPE_SPF 99

enum dns_status {
	DNS_OK = 0,	/* records in the result */
	DNS_NXDOMAIN,	/* the name does not exist */
	DNS_NODATA,	/* the name exists, no records of this type */
	DNS_TEMPFAIL,	/* SERVFAIL, timeout, DNSSEC bogus, network */
	DNS_PERMFAIL,	/* malformed query name or answer, too big */
};

struct dns_config {
	/* "ADDR" or "ADDR:PORT" ("[V6]:PORT" for IPv6). When there is at
	 * least one, every query goes to them (recursion done there) and
	 * /etc/resolv.conf and /etc/hosts are not read. When there is none,
	 * the resolvers of /etc/resolv.conf and /etc/hosts are used. */
	const char	*forwarders[DNS_FORWARDERS_MAX];
	size_t		 nforwarders;
	/* Per query, at most 600000; 0: DNS_TIMEOUT_DEFAULT_MS. */
	unsigned	 timeout_ms;
	/* DNSSEC trust anchor file (unbound auto-trust-anchor-file format);
	 * NULL: no validation, result->secure is always false. */
	const char	*trust_anchor_file;
	/* Cache entries (LRU beyond), at most 1000000;
	 * 0: DNS_CACHE_DEFAULT_MAX. */
	size_t		 cache_max;
};

#define DNS_TIMEOUT_DEFAULT_MS 5000
#define DNS_CACHE_DEFAULT_MAX 4096

struct dns_mx {
	uint16_t	 pref;
	char		*host;		/* "." for the null MX */
};

struct dns_addr {
	int		 family;	/* AF_INET or AF_INET6 */
	union {
		struct in_addr	v4;
		struct in6_addr	v6;
	}		 u;
	char		 str[INET6_ADDRSTRLEN];
};

struct dns_txt {
	/* The character-strings of one TXT RR concatenated (RFC 7208 3.3,
	 * RFC 6376 3.6.2.2), NUL-terminated. len is the true length: a
	 * string with embedded NULs has strlen(s) != len. */
	char		*s;
	size_t		 len;
};

struct dns_result {
	enum dns_status	 status;
	bool		 secure;	/* DNSSEC validated */
	bool		 from_cache;
	uint16_t	 qtype;
	/* The name asked, lower-cased, without the trailing dot ("" when
	 * it was invalid). */
	const char	*qname;
	/* The name the answer is for after CNAMEs (= qname without any),
	 * as unbound renders it: octets other than letters, digits, '-',
	 * '_', '*' show as '?'. For information and logs. */
	const char	*canon;
	uint32_t	 ttl;		/* seconds left */
	const char	*why;		/* short reason, not DNS_OK */
	size_t		 count;		/* elements in the qtype array */
	/* MX: sorted by preference; equal ones in the order received
	 * (RFC 5321 5.1: the caller randomises them). */
	struct dns_mx	*mx;
	bool		 null_mx;	/* one MX "0 ." (RFC 7505) */
	struct dns_addr	*addr;		/* A, AAAA */
	struct dns_txt	*txt;		/* TXT, SPF */
	char		**names;	/* PTR, CNAME, NS */
};

struct dns;
struct dns_query;

/* The result and everything it points to is valid only during the call.
 * The query handle is finished when the callback runs. */
typedef void dns_cb(const struct dns_result *res, void *ctx);

/* Create the resolver on loop. Returns NULL with a message in err on a
 * bad configuration or a libunbound failure. */
struct dns *dns_new(uv_loop_t *loop, const struct dns_config *cfg, char *err,
    size_t errlen);
/* Cancel every outstanding query (no callbacks), stop unbound and release
 * everything once the loop has run the handle close callbacks. NULL-safe;
 * sets *dnsp = NULL. */
void dns_free(struct dns **dnsp);

/* Start a query. Never NULL and never calls cb before returning; the
 * handle is valid until cb runs or dns_cancel() is called. */
struct dns_query *dns_query(struct dns *dns, const char *name, uint16_t qtype,
    dns_cb *cb, void *ctx);
struct dns_query *dns_query_mx(struct dns *dns, const char *name, dns_cb *cb,
    void *ctx);
struct dns_query *dns_query_a(struct dns *dns, const char *name, dns_cb *cb,
    void *ctx);
struct dns_query *dns_query_aaaa(struct dns *dns, const char *name,
    dns_cb *cb, void *ctx);
struct dns_query *dns_query_txt(struct dns *dns, const char *name, dns_cb *cb,
    void *ctx);
/* PTR for an IPv4 or IPv6 address string; a bad address is DNS_PERMFAIL. */
struct dns_query *dns_query_ptr(struct dns *dns, const char *ip, dns_cb *cb,
    void *ctx);
/* The callback of q will not be called; q is freed. For a session that
 * goes away. q must be a handle whose callback has not run yet. */
void dns_cancel(struct dns_query *q);

/* Build the reverse name of ip (in-addr.arpa / ip6.arpa) into buf.
 * Returns 0, or -1 when ip is not an address or buf is too small. */
int dns_reverse_name(const char *ip, char *buf, size_t buflen);
const char *dns_status_name(enum dns_status st);
/* Number of outstanding queries (tests, stats). */
size_t dns_pending(const struct dns *dns);
/* Cache statistics since dns_new. */
void dns_cache_stats(const struct dns *dns, uint64_t *hits_r,
    uint64_t *misses_r);

#endif
