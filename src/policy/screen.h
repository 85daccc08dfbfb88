/* screen: what a worker's sessions ask before they serve a client:
 * static allow/deny rules (screen_rules, reloaded within a second when
 * moatctl changes them), dynamic bans and counters shared by every
 * process (dynscreen), DNS blocklists; and what they report back
 * (unknown recipients, failed logins, protocol errors, relay attempts),
 * which may ban the client. One struct screen per worker process.
 *
 * Every check appends its input and verdict to the session's trace; a
 * refusal fills a struct screen_refusal with the rule (for the rejected
 * log) and the reply text. A rule in shadow mode never refuses: the
 * refusal comes back with shadow set, for the caller to log only.
 *
 * Never banned or refused by dynamic rules: the trusted networks
 * ([relay] trusted_networks) and addresses an allow rule matches. */
#ifndef MOAT_SCREEN_H
#define MOAT_SCREEN_H

#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

#include "config.h"
#include "screen_rules.h"
#include "trace.h"

struct dynscreen;
struct dns;

struct screen_refusal {
	char	 rule[SCREEN_HIT_TEXT_MAX];	/* "ban auth_fail", ... */
	char	 text[256];	/* reply text after the code */
	bool	 shadow;	/* log it, refuse nothing */
	int	 dnsbl_score;	/* DNSBL answers: the summed weights, also
				   when they refuse nothing */
};

/* Results of a check. */
enum screen_result {
	SCREEN_PASS = 0,	/* go on */
	SCREEN_REFUSE,		/* refuse with r (r->shadow: log only and
				   go on) */
	SCREEN_ALLOWED,		/* an allow rule matched: skip the rest of
				   the screening of this kind */
};

struct screen *screen_new(uv_loop_t *loop, const struct config *cfg,
    struct dynscreen *dyn);
void screen_free(struct screen **sc);

enum screen_service screen_service_of(enum listen_service svc);
/* In the trusted networks. */
bool screen_trusted(const struct screen *sc, const char *ip);

/* At connect: bans, IP rules, the connection counter. O(1) in the
 * number of rules and counters, no disk I/O. */
enum screen_result screen_connect(struct screen *sc, enum listen_service svc,
    const char *ip, struct trace *t, struct screen_refusal *r);
/* Is the client allow-listed by IP (set by screen_connect's ALLOWED)? */

/* rDNS name rules; name is the verified PTR name. */
enum screen_result screen_host(struct screen *sc, enum listen_service svc,
    const char *ip, const char *name, struct trace *t,
    struct screen_refusal *r);
enum screen_result screen_helo(struct screen *sc, enum listen_service svc,
    const char *helo, struct trace *t, struct screen_refusal *r);
enum screen_result screen_sender(struct screen *sc, enum listen_service svc,
    const char *sender, struct trace *t, struct screen_refusal *r);
/* What RCPT knows of the client, for the rules of a local domain. */
struct screen_client {
	const char	*ip;
	const char	*rdns;		/* "" or NULL: unknown */
	const char	*helo;
	const char	*sender;
};
/* domain: the recipient's domain when it is local, else NULL. For a
 * local domain the client is checked again against the rules of that
 * domain (ip, host, helo, sender) together with the global ones (allow
 * still beats deny), then the recipient rules. */
enum screen_result screen_rcpt(struct screen *sc, enum listen_service svc,
    const struct screen_client *cl, const char *rcpt, const char *domain,
    struct trace *t, struct screen_refusal *r);

/* Count an event of ip. fingerprint: non-zero to count a repeat of the
 * same event (same user and password) once. Returns SCREEN_REFUSE when
 * the client is banned now (the session says 421 / BYE and closes),
 * with r->shadow when the ban is only shadowed. */
enum screen_result screen_event(struct screen *sc, const char *ip,
    enum config_dyn what, uint64_t fingerprint, struct trace *t,
    struct screen_refusal *r);

/* A login attempt (auth_events.c): counts failures per address and per
 * account, bans honeypot names at once, blocks an account that fails
 * from too many addresses (password spraying), and tells the caller
 * whether the client is banned now. user may be NULL. */
enum screen_result screen_login(struct screen *sc, const char *service,
    const char *ip, const char *user, bool ok, uint64_t fingerprint,
    struct trace *t, struct screen_refusal *r);

/* DNS blocklists, when [screen] dnsbl is set and the client is not
 * trusted or allow-listed: done(ctx, result, r) runs once on the loop.
 * Returns NULL (and never calls done) when there is nothing to ask. */
struct screen_dnsbl;
typedef void screen_dnsbl_cb(void *ctx, enum screen_result res,
    const struct screen_refusal *r);
struct screen_dnsbl *screen_dnsbl_start(struct screen *sc, struct dns *dns,
    const char *ip, struct trace *t, screen_dnsbl_cb *done, void *ctx);
void screen_dnsbl_cancel(struct screen_dnsbl *q);

/* For services without their own rejected-log plumbing (IMAP, POP3):
 * write the refusal r of session (its reference from the session id)
 * with the reply code sent; user may be NULL. */
void screen_log_refusal(struct screen *sc, const char *service,
    const char *session, const char *ip, const char *user, int code,
    const struct screen_refusal *r, const struct trace *t);

/* IMAP and POP3 at connect: screen_connect with the refusal logged.
 * Returns true when the client must be refused; text (the reply text
 * with the session's reference) is filled then. */
bool screen_session_refused(struct screen *sc, enum listen_service svc,
    const char *session, const char *ip, char *text, size_t textlen);

/* Does any host rule exist (then the session looks the client up)? */
bool screen_wants_rdns(const struct screen *sc);

struct dynscreen *screen_dyn(const struct screen *sc);

#endif
