/* dmarc: Domain-based Message Authentication, Reporting and Conformance
 * (RFC 7489): the RFC 5322.From domain, the Organizational Domain (the
 * Public Suffix List through libpsl), policy discovery over the dns
 * module, identifier alignment and the policy evaluation, and the row an
 * aggregate report is built from.
 *
 * Usage at the end of DATA, on the worker's loop, once SPF (at MAIL) and
 * DKIM (dkim_verify_lookup) are done:
 *
 *	char from[DMARC_DOMAIN_MAX + 1];
 *	r = dmarc_from_domain(msg, len, from, sizeof(from), &error);
 *	struct dmarc_auth in = { .from_domain = from, .spf = spf_result,
 *	    .spf_domain = dmarc_spf_domain(mail_from, helo),
 *	    .dkim = results, .ndkim = n, .pct_roll = -1 };
 *	s->dmarc = dmarc_check_start(loop, dns, &in, on_dmarc, s);
 *	... on_dmarc(const struct dmarc_result *r, void *ctx): r->status,
 *	    r->disposition (what the domain asks us to do after pct);
 *	dmarc_check_cancel(s->dmarc) if the session goes away first.
 *
 * dmarc_from_domain returning -1 (no From, several From fields, several
 * addresses of different domains: RFC 7489 6.6.1 says these are
 * "typically rejected") is reported by dmarc_check_start with
 * from_domain NULL as DMARC_PERMERROR, disposition none: the caller
 * decides whether to reject (moat's choice is the caller's, the module
 * never asks for more than the domain owner did).
 *
 * The pure core (dmarc_record_parse, dmarc_record_select,
 * dmarc_evaluate) takes record text and needs no loop.
 *
 * SECURITY: records come from DNS and From fields from the message: both
 * untrusted. Every field is bounded by the limits below; domains are
 * checked to be LDH names before they are used in a query or compared;
 * reasons are fixed texts. */
#ifndef MOAT_DMARC_H
#define MOAT_DMARC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <uv.h>

#include "dkim.h"
#include "dns.h"
#include "spf.h"

#define DMARC_DOMAIN_MAX	253	/* presentation form, no final dot */
#define DMARC_RECORD_MAX	4096	/* octets of one record looked at */
#define DMARC_TAGS_MAX		32	/* tags in one record */
#define DMARC_URIS_MAX		8	/* rua= / ruf= URIs kept */
#define DMARC_URI_MAX		256	/* octets of one URI kept */
#define DMARC_RI_DEFAULT	86400	/* RFC 7489 6.3 */
#define DMARC_FROM_FIELDS_MAX	1000	/* header fields looked at */
#define DMARC_FROM_ADDRS_MAX	100	/* addresses in one From field */
#define DMARC_HEADER_MAX	(256 * 1024)	/* header block looked at */

enum dmarc_policy {
	DMARC_P_UNSET = 0,	/* no record, or sp= absent */
	DMARC_P_NONE,
	DMARC_P_QUARANTINE,
	DMARC_P_REJECT,
};

enum dmarc_align {
	DMARC_ALIGN_RELAXED = 0,
	DMARC_ALIGN_STRICT,
};

/* fo= options (RFC 7489 6.3) */
#define DMARC_FO_0	0x1
#define DMARC_FO_1	0x2
#define DMARC_FO_D	0x4
#define DMARC_FO_S	0x8

struct dmarc_record {
	enum dmarc_policy p;
	enum dmarc_policy sp;		/* DMARC_P_UNSET: same as p */
	unsigned	 pct;		/* 0..100, default 100 */
	enum dmarc_align adkim;
	enum dmarc_align aspf;
	unsigned	 fo;		/* DMARC_FO_*, default DMARC_FO_0 */
	uint32_t	 ri;		/* seconds, default DMARC_RI_DEFAULT */
	/* p= missing or invalid, but rua= has a valid URI: treated as
	 * p=none (RFC 7489 6.6.3 step 6.1) */
	bool		 p_implied;
	size_t		 nrua;
	size_t		 nruf;
	char		 rua[DMARC_URIS_MAX][DMARC_URI_MAX + 1];
	char		 ruf[DMARC_URIS_MAX][DMARC_URI_MAX + 1];
};

/* Parse one TXT record. Returns 0 (a valid DMARC record in *rec), 1 (not
 * a DMARC record: it does not start with "v=DMARC1", RFC 7489 6.6.3 step
 * 2), or -1 with *error_r (a DMARC record that is not valid: bad syntax,
 * a bad value of a known tag, a duplicate tag, no usable p=). Unknown
 * tags are ignored (6.3). Values are case-insensitive. */
int dmarc_record_parse(const char *s, size_t len, struct dmarc_record *rec,
    const char **error_r);

enum dmarc_select {
	DMARC_SELECT_FOUND = 0,	/* exactly one valid record */
	DMARC_SELECT_EMPTY,	/* no DMARC record among them */
	DMARC_SELECT_MULTIPLE,	/* several: no DMARC (6.6.3 step 5) */
	DMARC_SELECT_INVALID,	/* one, not valid: no DMARC (step 6.2) */
};

/* The record of one TXT RRset (n records). */
enum dmarc_select dmarc_record_select(const struct dns_txt *txt, size_t n,
    struct dmarc_record *rec, const char **error_r);

/* The Organizational Domain of domain (RFC 7489 3.2): the registrable
 * domain by the Public Suffix List (ICANN and private sections), lower
 * case; a name that is itself a public suffix is its own. Returns 0, or
 * -1 when domain is not a valid name or out is too small. */
int dmarc_org_domain(const char *domain, char *out, size_t outlen);

/* Identifier alignment (RFC 7489 3.1): strict is an exact (case-
 * insensitive) match, relaxed the same Organizational Domain. */
bool dmarc_aligned(const char *a, const char *b, enum dmarc_align mode);

/* The domain SPF authenticated for DMARC (RFC 7489 3.1.2): that of MAIL
 * FROM, or the HELO name for the null reverse-path. Points into its
 * arguments; "" when there is none. */
const char *dmarc_spf_domain(const char *mail_from, const char *helo);

/* The RFC 5322.From domain of a message (header block, the body may
 * follow), lower case, into out (DMARC_DOMAIN_MAX + 1 suffices).
 * Returns 0; 1 when the From field holds no domain (group syntax without
 * members: DMARC does not apply, 6.6.1); -1 with *error_r when there is
 * no From field, several From fields, several addresses with different
 * domains, or a domain that is not a valid (ASCII) name. One field with
 * several addresses of one domain is that domain. */
int dmarc_from_domain(const void *msg, size_t len, char *out, size_t outlen,
    const char **error_r);

enum dmarc_status {
	DMARC_NONE = 0,		/* no policy (or DMARC does not apply) */
	DMARC_PASS,
	DMARC_FAIL,
	DMARC_TEMPERROR,	/* policy lookup failed temporarily */
	DMARC_PERMERROR,	/* no usable From domain */
};

enum dmarc_disposition {
	DMARC_DISP_NONE = 0,
	DMARC_DISP_QUARANTINE,
	DMARC_DISP_REJECT,
};

/* What the checks before DMARC found. */
struct dmarc_auth {
	const char	*from_domain;	/* NULL: dmarc_from_domain failed */
	enum spf_result	 spf;
	const char	*spf_domain;	/* dmarc_spf_domain() */
	const struct dkim_result *dkim;	/* every verified signature */
	size_t		 ndkim;
	/* pct sampling (6.6.4): the policy applies when roll < pct. -1:
	 * a random roll in 0..99; 0..99: this value (tests). */
	int		 pct_roll;
	const char	*from_error;	/* why from_domain is NULL */
};

struct dmarc_result {
	enum dmarc_status status;
	/* the requested policy (p=, or sp= for a subdomain whose policy
	 * came from the Organizational Domain); DMARC_P_UNSET without one */
	enum dmarc_policy policy;
	/* what to do: policy on fail after pct sampling, else none */
	enum dmarc_disposition disposition;
	bool		 sampled_out;	/* fail, but pct spared it */
	bool		 spf_aligned;	/* SPF pass with an aligned domain */
	bool		 dkim_aligned;	/* a DKIM pass with an aligned d= */
	bool		 subdomain;	/* policy from the org domain's record
					 * for a subdomain */
	bool		 has_record;
	struct dmarc_record rec;
	enum spf_result	 spf;
	enum dkim_status dkim;		/* of the aligned (or best) signature */
	char		 from_domain[DMARC_DOMAIN_MAX + 1];
	char		 org_domain[DMARC_DOMAIN_MAX + 1];
	char		 policy_domain[DMARC_DOMAIN_MAX + 1];	/* record */
	char		 spf_domain[DMARC_DOMAIN_MAX + 1];
	char		 dkim_domain[DMARC_DOMAIN_MAX + 1];
	const char	*reason;	/* a fixed text, "" when none */
};

/* Evaluate (6.6.2 steps 5 and 6): rec was found at policy_domain (the
 * From domain or its Organizational Domain); rec NULL: no policy (the
 * result is none, with the alignment still computed for reports). */
void dmarc_evaluate(const struct dmarc_record *rec, const char *policy_domain,
    const struct dmarc_auth *in, struct dmarc_result *out);

/*
 * Asynchronous check: policy discovery (6.6.3) over dns, then
 * dmarc_evaluate. The callback runs exactly once, from the loop, never
 * inside dmarc_check_start, unless the check is cancelled first. The
 * input is copied.
 */
struct dmarc_check;
typedef void dmarc_cb(const struct dmarc_result *r, void *ctx);
struct dmarc_check *dmarc_check_start(uv_loop_t *loop, struct dns *dns,
    const struct dmarc_auth *in, dmarc_cb *cb, void *ctx);
/* Only before the callback ran; afterwards the handle is gone. */
void dmarc_check_cancel(struct dmarc_check *c);

const char *dmarc_status_name(enum dmarc_status st);
const char *dmarc_policy_name(enum dmarc_policy p);	/* "none", ... */
const char *dmarc_disposition_name(enum dmarc_disposition d);

/* The Authentication-Results resinfo (RFC 7489 11.2, RFC 8601):
 * 'dmarc=fail (p=reject dis=reject) header.from=example.org'. Returns 0
 * or -1 when out is too small (DMARC_AR_MAX suffices). */
#define DMARC_AR_MAX	(DMARC_DOMAIN_MAX + 128)
int dmarc_ar_format(const struct dmarc_result *r, char *out, size_t outlen);

/*
 * Aggregate reports (RFC 7489 7.2, appendix C "record" rows)
 */

struct dmarc_report_row {
	time_t		 time;
	char		 source_ip[INET6_ADDRSTRLEN];
	char		 header_from[DMARC_DOMAIN_MAX + 1];
	char		 envelope_from[DMARC_DOMAIN_MAX + 1];
	char		 policy_domain[DMARC_DOMAIN_MAX + 1];
	const char	*policy;	/* p/sp applied: "none", ... */
	const char	*disposition;	/* "none", "quarantine", "reject" */
	const char	*dmarc;		/* "pass", "fail", ... */
	const char	*dkim;		/* dkim_status_name() */
	char		 dkim_domain[DMARC_DOMAIN_MAX + 1];
	bool		 dkim_aligned;
	const char	*spf;		/* spf_result_name() */
	char		 spf_domain[DMARC_DOMAIN_MAX + 1];
	bool		 spf_aligned;
	unsigned	 pct;
};

/* The row for one message; the caller stores it (dmarc_report_store). */
void dmarc_report_row(const struct dmarc_result *r, const char *source_ip,
    time_t now, struct dmarc_report_row *row);

struct store;
/* Insert the row into the store's dmarc_reports table. Returns 0, or -1
 * with *error_r. */
int dmarc_report_store(struct store *st, const struct dmarc_report_row *row,
    const char **error_r);

#endif
