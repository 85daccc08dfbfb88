/* hijack: hijacked-account detection for authenticated submission. Per
 * account, messages and recipients over sliding windows (the [hijack]
 * rates; separate message limits for clients on local/reserved
 * addresses), first-time recipients per day and logins from too many
 * addresses are counted in the shared map (dynscreen). Crossing a limit
 * freezes the account: the shared map carries the flag every worker
 * checks at MAIL, the database keeps the freeze and its single-use
 * token, and the admins get a notification mail with that token.
 * A reply carrying the token unfreezes the account only when it is
 * provably from an admin: submitted by an authenticated admin account,
 * or DMARC-aligned mail from an admin's domain. Admins and [hijack]
 * exempt accounts are never frozen. */
#ifndef MOAT_HIJACK_H
#define MOAT_HIJACK_H

#include <stdbool.h>
#include <stddef.h>

#include <uv.h>

#include "config.h"

struct dynscreen;

#define HIJACK_REASON_MAX	160
#define HIJACK_SAMPLE_MAX	10	/* recipients shown to the admin */

/* An accepted (or about to be accepted) submission. */
struct hijack_msg {
	const char	*account;	/* the SMTP AUTH identity */
	const char	*ip;
	const char	*session;
	char *const	*rcpts;
	size_t		 nrcpts;
	const char	*subject;	/* may be NULL */
};

/* Is account frozen (the shared flag)? reason gets the reason. */
bool hijack_frozen(struct dynscreen *dyn, const char *account, char *reason,
    size_t len);
/* Never frozen: an admin or in [hijack] exempt. */
bool hijack_exempt(const struct config *cfg, const char *account);
/* Is account one of the admins ([hijack] admins, or postmaster@ of the
 * account's domain when none are set)? */
bool hijack_is_admin(const struct config *cfg, const char *account,
    const char *for_domain);

/* Count a message at the end of DATA. Returns true when it crosses a
 * limit (reason filled): the caller refuses it, unless shadow mode. */
bool hijack_count(const struct config *cfg, struct dynscreen *dyn,
    const struct hijack_msg *m, char *reason, size_t len);
/* A successful login of account from ip: too many addresses in the
 * window crosses a limit (true, reason filled). */
bool hijack_login(const struct config *cfg, struct dynscreen *dyn,
    const char *account, const char *ip, char *reason, size_t len);

/* Freeze account now (the shared flag), then in the thread pool store
 * the freeze and queue the admins' notification. In shadow mode only
 * log what would happen. */
void hijack_freeze(uv_loop_t *loop, const struct config *cfg,
    struct dynscreen *dyn, const struct hijack_msg *m, const char *reason);
/* After a message is queued: record its recipients and count the
 * first-time ones (thread pool); past the limit, freeze. */
void hijack_after_queue(uv_loop_t *loop, const struct config *cfg,
    struct dynscreen *dyn, const struct hijack_msg *m);

/* A message whose Subject carries "unfreeze TOKEN": from_admin tells
 * whether it is provably from an admin (the caller knows how it came).
 * Unfreezes in the thread pool, or logs why not. Returns true when the
 * subject holds a token. */
bool hijack_reply(uv_loop_t *loop, const struct config *cfg,
    struct dynscreen *dyn, const char *subject, bool from_admin,
    const char *who, const char *session);

/* The token in a subject ("... [unfreeze 0123...]"): 0 with token
 * (STORE_TOKEN_LEN + 1 bytes) or -1. */
int hijack_subject_token(const char *subject, char *token, size_t len);

#endif
