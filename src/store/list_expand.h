/* list_expand: a list's side of delivery. A recipient that is a list
 * address is handed here by deliver_rcpt (thread pool): a post to LIST@
 * becomes one queued copy per active member, with the list headers
 * (RFC 2369 List-Help/-Post/-Subscribe/-Unsubscribe, RFC 2919 List-Id,
 * RFC 8058 one-click), the subject prefix, the Reply-To policy and
 * Precedence: list, then list_auth_transform(); its envelope sender is
 * LIST-bounces+member=domain+TAG@DOMAIN (VERP, TAG an HMAC) so a bounce
 * names the member and nobody else can.
 * A post to a moderated list is held for the moderator; mail to the
 * other list addresses goes to list_request. */
#ifndef MOAT_LIST_EXPAND_H
#define MOAT_LIST_EXPAND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "config.h"
#include "queue.h"
#include "store.h"
#include "store_list.h"

#define LIST_MEMBERS_MAX	100000	/* copies of one post */
#define LIST_HEADERS_MAX	(256 * 1024)	/* header section edited */
#define LIST_FROM_ADDRS_MAX	8	/* From: addresses checked */
#define LIST_VERP_TAG_LEN	10	/* hex digits: 40 bits of HMAC */

enum list_outcome {
	LIST_NOT_LIST = 0,	/* not a list address: deliver as usual */
	LIST_DONE,		/* handled (copies durably queued, ...) */
	LIST_TEMP,		/* try again later; reason says why */
	LIST_FAILED,		/* permanent; reason has the RFC 3463 code */
};

/* Deliver msg (len octets, the queued message) to local@domain when that
 * is a list address. Blocking: a pool thread. reason gets "5.x.x ..." or
 * "4.x.x ..." for LIST_FAILED / LIST_TEMP. */
enum list_outcome list_deliver(struct store *st, const struct config *cfg,
    const struct queue_envelope *env, const uint8_t *msg, size_t len,
    const char *local, const char *domain, char *reason, size_t reasonlen);

/* Members-only posting (Mailman's rule): the post is a member's when the
 * envelope sender or an address of its From: field is an active member
 * of li or li's moderator; never for the null sender (a bounce). Reads
 * the header section (at most LIST_HEADERS_MAX octets). 1 yes, 0 no,
 * -1 database error. */
int list_may_post(struct store *st, const struct list_info *li,
    const char *sender, const uint8_t *msg, size_t len);

/* End of DATA: every recipient ("local@domain") that is a members-only
 * list must pass list_may_post. 0 all do (or no list among them), 1
 * refused with text ("5.7.1 ...", for a 550), -1 database error. A
 * read: cheap enough for the event loop, like the RCPT lookups. */
int list_data_policy(struct store *st, char *const *rcpts, size_t nrcpts,
    const char *sender, const uint8_t *msg, size_t len, char *text,
    size_t textlen);

/* Write one message from `from` ("" for the null reverse-path) to `to`
 * into queue/msg (file fsync'd; the caller fsyncs the directory with
 * list_queue_sync before it counts on it). service names the origin in
 * the envelope ("list", "list-approved", ...); orig (may be NULL) the
 * envelope the mail comes from (session, 8BITMIME, SMTPUTF8, the
 * author's DMARC policy). 0 or -1
 * with errno. */
int list_queue_mail(const struct config *cfg, const char *from,
    const char *to, const char *service, const struct queue_envelope *orig,
    const uint8_t *msg, size_t len, char id_r[QUEUE_ID_LEN + 1]);
int list_queue_sync(const struct config *cfg);

/* The tag of a VERP address: HMAC-SHA256(key, "list\nmember") (lower
 * case), LIST_VERP_TAG_LEN hex digits. A bounce counts only with it. */
void list_verp_tag(const uint8_t key[LIST_VERP_KEY_LEN], const char *list,
    const char *member, char tag[LIST_VERP_TAG_LEN + 1]);

/* The list's own header fields of every copy (a post's, a digest's):
 * List-Id, List-Help, List-Post, List-Subscribe, List-Owner,
 * Precedence and X-BeenThere, appended to out. 0 or -1 (out full). */
int list_header_fields(const struct list_info *li, struct buf *out);

/* One copy of head (header fields without List-Unsubscribe: each copy
 * gets its own), a blank line and body per active member of li: the
 * digest members (digest), or the others (a digest member of a list
 * that offers no digest counts with the others). Each copy is signed
 * (list_auth_transform with env's author DMARC policy) and queued from
 * its VERP address. LIST_DONE: every copy is durably queued, *copies_r
 * of them; LIST_TEMP (reason "4.x.x ..."): none stays queued. */
enum list_outcome list_send_copies(struct store *st,
    const struct config *cfg, const struct queue_envelope *env,
    const struct list_info *li, const struct buf *head,
    const uint8_t *body, size_t bodylen, bool digest, size_t *copies_r,
    char *reason, size_t reasonlen);

/* Where mail for li's owner goes (LIST-owner@, held-post notices): the
 * moderator, else (or when the moderator is a list address: a loop)
 * postmaster@ the list's domain. 0 or -1 (database error). */
int list_owner_address(struct store *st, const struct list_info *li,
    char *to, size_t tolen);

#endif
