/* auth_events: the one function every service (SMTP AUTH, IMAP, POP3,
 * web) calls after a login attempt. It logs the attempt, records the
 * client address of successful IMAP/POP3 logins for POP-before-SMTP, and
 * is where dynamic screening counts failures per address and account. */
#ifndef MOAT_AUTH_EVENTS_H
#define MOAT_AUTH_EVENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct screen;
struct screen_refusal;
struct store;
struct trace;

struct auth_attempt {
	const char	*service;	/* "smtp", "submission", "imap", ... */
	const char	*ip;
	const char	*user;		/* NULL when none was given */
	bool		 ok;
	const char	*reason;	/* failure: sasl_fail_name() */
	uint64_t	 fingerprint;	/* sasl_reply.fingerprint */
};

/* Returns true when the attempt made screening refuse the client (r
 * says why): unless r->shadow (then only log it), the caller answers
 * the attempt as usual, then ends the session. sc, t may be NULL. */
bool auth_event(struct screen *sc, struct store *st,
    const struct auth_attempt *a, struct trace *t,
    struct screen_refusal *r);

/* auth_event for services without a trace of their own (IMAP, POP3):
 * a ban is logged to the rejected log for session; true when banned,
 * with the reply text (reference included) in text. */
bool auth_event_logged(struct screen *sc, struct store *st,
    const struct auth_attempt *a, const char *session, char *text,
    size_t textlen);

#endif
