/* spf_parse: the pure half of SPF (RFC 7208) and Sender ID (RFC 4406):
 * record selection, the record parser (record text -> terms) and macro
 * expansion (section 7). No I/O, no allocation beyond the term array:
 * unit tested and fuzzed on its own. spf.c drives them over DNS.
 *
 * SECURITY: every input here comes from DNS or the SMTP client. Terms are
 * slices into the record text; all lengths are bounded by the constants
 * below and every expansion writes into a caller buffer of known size. */
#ifndef MOAT_SPF_PARSE_H
#define MOAT_SPF_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <netinet/in.h>

#define SPF_TERMS_MAX 1024		/* terms in one record (processing limit) */
#define SPF_DOMAIN_MAX 253		/* expanded domain, RFC 7208 7.3 */
#define SPF_LABEL_MAX 63		/* RFC 1035 2.3.4 */
#define SPF_MACRO_PARTS_MAX 128		/* DIGIT transformer, RFC 7208 7.3 */
#define SPF_EXPLAIN_MAX 1024		/* expanded explanation, truncated */
#define SPF_SENDER_MAX 512		/* <sender> we evaluate */
#define SPF_CIDR4_MAX 32
#define SPF_CIDR6_MAX 128

enum spf_mech {
	SPF_MECH_ALL = 0,
	SPF_MECH_INCLUDE,
	SPF_MECH_A,
	SPF_MECH_MX,
	SPF_MECH_PTR,
	SPF_MECH_IP4,
	SPF_MECH_IP6,
	SPF_MECH_EXISTS,
};

/* A directive: qualifier + mechanism. Modifiers are kept apart. */
struct spf_term {
	enum spf_mech	 mech;
	char		 qualifier;	/* '+', '-', '~', '?' */
	/* domain-spec as a slice of the record; len 0: none given */
	const char	*domain;
	size_t		 domain_len;
	unsigned	 cidr4;		/* 32 when none given */
	unsigned	 cidr6;		/* 128 when none given */
	union {
		struct in_addr	v4;
		struct in6_addr	v6;
	}		 addr;		/* ip4 / ip6 */
};

struct spf_record {
	struct spf_term	*terms;		/* nterms, heap; spf_record_deinit */
	size_t		 nterms;
	const char	*redirect;	/* domain-spec slices; NULL: none */
	size_t		 redirect_len;
	const char	*exp;
	size_t		 exp_len;
};

/* Which identity a record is selected for: RFC 7208 (v=spf1 only), or
 * RFC 4406 scopes ("spf2.0/mfrom", "spf2.0/pra"; v=spf1 as a fallback). */
enum spf_scope {
	SPF_SCOPE_SPF1 = 0,
	SPF_SCOPE_MFROM,
	SPF_SCOPE_PRA,
};

/* How one TXT string relates to scope: not an SPF record for it, a v=spf1
 * record, or an spf2.0 record naming the scope. *terms_r is where the
 * terms start (after the version section). */
enum spf_version {
	SPF_VERSION_NONE = 0,
	SPF_VERSION_SPF1,
	SPF_VERSION_SPF2,
};
enum spf_version spf_record_version(const char *txt, size_t len,
    enum spf_scope scope, size_t *terms_r);

/* Parse the terms of a record (the text after the version section).
 * Returns 0, or -1 with a static message in *error_r on any syntax error
 * anywhere in the record (RFC 7208 4.6: the record is then a permerror).
 * rec points into txt: txt must outlive it. */
int spf_record_parse(const char *txt, size_t len, struct spf_record *rec,
    const char **error_r);
void spf_record_deinit(struct spf_record *rec);

/* Values the macro letters expand to (RFC 7208 7.2). All NUL-terminated;
 * p may be NULL when it was not looked up (then %{p} is an error for
 * the expander: the caller resolves it first, see spf_macro_uses_p). */
struct spf_macro_vars {
	const char	*s;	/* sender */
	const char	*l;	/* local-part */
	const char	*o;	/* sender domain */
	const char	*d;	/* current domain */
	const char	*i;	/* dotted quad, or dot-format IPv6 nibbles */
	const char	*c;	/* printable client address */
	const char	*v;	/* "in-addr" or "ip6" */
	const char	*h;	/* HELO name */
	const char	*p;	/* validated name, "unknown"; NULL: not known */
	const char	*r;	/* receiving host */
	time_t		 t;
};

enum spf_macro_mode {
	SPF_MACRO_DOMAIN = 0,	/* domain-spec: c r t refused, 253 rule */
	SPF_MACRO_EXPLAIN,	/* explain-string: SP allowed, c r t too */
	SPF_MACRO_STRING,	/* unknown-modifier macro-string: check only */
};

/* Check the macro syntax of s[0..len) for mode (and, for domains, the
 * domain-end rule). Returns 0 or -1 with *error_r. */
int spf_macro_check(const char *s, size_t len, enum spf_macro_mode mode,
    const char **error_r);
/* True when s[0..len) uses the p macro (which needs DNS first). */
bool spf_macro_uses_p(const char *s, size_t len);
/* Expand s[0..len) into out (outlen >= SPF_DOMAIN_MAX + 1 for domains,
 * any size for explanations, which are truncated to fit). A domain is
 * truncated from the left to SPF_DOMAIN_MAX octets by whole labels
 * (RFC 7208 7.3), and a trailing dot is removed. Returns the length, or
 * -1 with *error_r on a syntax error or a missing value. */
int spf_macro_expand(const char *s, size_t len, enum spf_macro_mode mode,
    const struct spf_macro_vars *vars, char *out, size_t outlen,
    const char **error_r);

/* True when name is a syntactically valid multi-label domain name of at
 * most SPF_DOMAIN_MAX octets (one trailing dot allowed): RFC 7208 4.3. */
bool spf_domain_valid(const char *name);

/* Build the "i" (dotted) and "c" (printable) forms of an address, and "v".
 * ip6 nibbles: 63 octets + NUL. */
#define SPF_IP_I_MAX 72
void spf_macro_ip(int family, const void *addr, char *i, size_t ilen,
    char *c, size_t clen, const char **v_r);

#endif
