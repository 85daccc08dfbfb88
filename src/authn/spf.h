/* spf: asynchronous SPF evaluation (RFC 7208 check_host()) over the dns
 * module, and Sender ID (RFC 4406/4407: the PRA identity and spf2.0/pra
 * records, off unless asked for with SPF_F_SENDER_ID).
 *
 * Usage at MAIL time, on the worker's loop:
 *
 *	struct spf_request rq = { .ip = peer_ip, .helo = helo,
 *	    .sender = mail_from, .identity = SPF_ID_MAILFROM };
 *	s->spf = spf_check_start(loop, dns, &rq, on_spf, s);
 *	... on_spf(const struct spf_report *r, void *ctx) runs later, once;
 *	    r->result, r->explanation (fail), r->problem (errors).
 *	spf_check_cancel(s->spf) when the session goes away first.
 *
 * Guarantees: the callback runs exactly once from the loop, never inside
 * spf_check_start, unless the check is cancelled first. Evaluation is
 * bounded by the RFC 7208 4.6.4 limits (10 terms that cause lookups, 2
 * void lookups, 10 MX / PTR names) and by a total time limit (temperror).
 *
 * SECURITY: records, names and explanations come from DNS and are
 * untrusted; explanation text is limited to printable ASCII (RFC 7208
 * 6.2) and bounded, and is logged only escaped. */
#ifndef MOAT_SPF_H
#define MOAT_SPF_H

#include <stdbool.h>
#include <stddef.h>

#include <uv.h>

#include "dns.h"

#define SPF_LOOKUPS_MAX 10		/* RFC 7208 4.6.4 */
#define SPF_VOID_LOOKUPS_MAX 2		/* RFC 7208 4.6.4 */
#define SPF_MX_NAMES_MAX 10		/* RFC 7208 4.6.4 */
#define SPF_PTR_NAMES_MAX 10		/* RFC 7208 4.6.4 */
#define SPF_TIMEOUT_DEFAULT_MS 20000	/* RFC 7208 4.6.4: at least 20 s */
#define SPF_HELO_MAX 255

enum spf_result {
	SPF_NONE = 0,
	SPF_NEUTRAL,
	SPF_PASS,
	SPF_FAIL,
	SPF_SOFTFAIL,
	SPF_TEMPERROR,
	SPF_PERMERROR,
};

enum spf_identity {
	SPF_ID_MAILFROM = 0,	/* MAIL FROM; postmaster@helo for <> */
	SPF_ID_HELO,		/* postmaster@helo (RFC 7208 2.3) */
	SPF_ID_PRA,		/* Sender ID: sender is the PRA (RFC 4407) */
};

#define SPF_F_SENDER_ID 0x1	/* allow SPF_ID_PRA (RFC 4406) */

struct spf_request {
	const char		*ip;		/* client address, v4 or v6 */
	const char		*helo;		/* HELO/EHLO argument */
	const char		*sender;	/* MAIL FROM / PRA; NULL = "" */
	enum spf_identity	 identity;
	unsigned		 flags;
	const char		*receiver;	/* %{r}; NULL: "unknown" */
	/* fail without a usable exp=; NULL: SPF_EXPLANATION_DEFAULT */
	const char		*default_explanation;
	unsigned		 timeout_ms;	/* 0: SPF_TIMEOUT_DEFAULT_MS */
};

#define SPF_EXPLANATION_DEFAULT "SPF fail - not authorized"

struct spf_report {
	enum spf_result	 result;
	const char	*domain;	/* the <domain> checked first */
	const char	*explanation;	/* fail: exp= text or the default */
	const char	*problem;	/* temperror/permerror/none: why */
	unsigned	 lookups;	/* terms that caused DNS lookups */
};

struct spf_check;

/* The result is valid only during the call; the check is freed after. */
typedef void spf_cb(const struct spf_report *res, void *ctx);

/* Start check_host() for the request. Returns NULL only for a request
 * the API refuses (SPF_ID_PRA without SPF_F_SENDER_ID, no ip or an ip
 * that is not an address), with a message in *error_r. */
struct spf_check *spf_check_start(uv_loop_t *loop, struct dns *dns,
    const struct spf_request *req, spf_cb *cb, void *ctx,
    const char **error_r);
/* The callback will not run; everything is released. Only for a check
 * whose callback has not run yet: after it, the handle is gone. */
void spf_check_cancel(struct spf_check *c);

/* "pass", "fail", ... (RFC 7208 2.6 / 8). */
const char *spf_result_name(enum spf_result r);

/* Sender ID: the Purported Responsible Address of a message (RFC 4407
 * 2): the mailbox of Resent-Sender / Resent-From / Sender / From by the
 * rules there. hdr is the header section (up to the empty line; the
 * body may follow and is ignored). Returns 0 with "local@domain" in out,
 * or -1 with *error_r when the PRA cannot be determined (RFC 4407 step
 * 6). */
#define SPF_PRA_HEADERS_MAX 1000	/* header fields looked at */
int spf_pra_extract(const char *msg, size_t len, char *out, size_t outlen,
    const char **error_r);

#endif
