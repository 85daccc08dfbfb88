/* list_request: mail to a list's service addresses, and held posts.
 * LIST-subscribe@ and LIST-unsubscribe@ (or "subscribe" / "unsubscribe"
 * in the subject or first body line of mail to LIST-request@) send a
 * confirmation with a token to the envelope sender (double opt-in);
 * mailing LIST-confirm+TOKEN@ (a reply to the confirmation does) or
 * "confirm TOKEN" in the subject to LIST-request@ carries it out. A
 * post held for the moderator is approved the same way. A DSN of a
 * permanent failure (RFC 3464) from the null sender to
 * LIST-bounces+member=domain+TAG@ (TAG: the HMAC list_verp_tag) counts
 * against the member. Never answers automatic mail (RFC 3834). */
#ifndef MOAT_LIST_REQUEST_H
#define MOAT_LIST_REQUEST_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "list_expand.h"
#include "queue.h"
#include "store.h"
#include "store_list.h"

#define LIST_REQUEST_SCAN	4096	/* body octets searched for a command */

/* Mail to one of li's service addresses (role, arg after the '+'). */
enum list_outcome list_request_handle(struct store *st,
    const struct config *cfg, const struct queue_envelope *env,
    const struct list_info *li, enum list_role role, const char *arg,
    const uint8_t *msg, size_t len, char *reason, size_t reasonlen);

/* Hold a post of a moderated list: keep it with an "approve" token and
 * send the moderator (postmaster@ the list domain when there is none)
 * the post and how to approve it. */
enum list_outcome list_request_hold(struct store *st,
    const struct config *cfg, const struct queue_envelope *env,
    const struct list_info *li, const uint8_t *msg, size_t len,
    char *reason, size_t reasonlen);

/* Carry out a token (also moatctl list confirm): 1 done, 0 unknown or
 * expired (or for another list when li is not NULL), -1 error. */
int list_request_confirm(struct store *st, const struct config *cfg,
    const struct list_info *li, const char *token, const char *session);

#endif
