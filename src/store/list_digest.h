/* list_digest: a list's digest. A post to a list that offers a digest
 * is kept for its digest members (store_list_digest.h) instead of a copy
 * each; a digest gathers the waiting posts into one new message from the
 * list: a text/plain table of contents (Subject and From of each post)
 * and a multipart/digest (RFC 2046 5.1.5) with each post as a
 * message/rfc822 part, with the list's header fields, signed by the
 * list's domain, one VERP copy per digest member. The posts are deleted
 * only once every copy is durably queued (a crash may send a post twice,
 * never lose it). */
#ifndef MOAT_LIST_DIGEST_H
#define MOAT_LIST_DIGEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "config.h"
#include "queue.h"
#include "store.h"
#include "store_list.h"

#define LIST_DIGEST_TOC_LINE_MAX	200	/* octets of a TOC entry */

/* At expansion, for a list that offers a digest: when it has active
 * digest members, keep the post (msg, len; env->id names it, so that a
 * retry keeps it once). *due_r: the waiting posts reach digest_size.
 * 0, or -1 with reason ("4.x.x ...": a database error, the list's
 * LIST_DIGEST_TOTAL_MAX reached). Blocking: the thread pool. */
int list_digest_keep(struct store *st, const struct queue_envelope *env,
    const struct list_info *li, const uint8_t *msg, size_t len,
    bool *due_r, char *reason, size_t reasonlen);

/* Send li's digest now (moatctl list digest, the size trigger, the
 * runner's check): the waiting posts, at most LIST_DIGEST_POSTS_MAX.
 * *posts_r (may be NULL): how many it held (0: none waited). 0, or -1
 * (logged; the posts wait for the next try). */
int list_digest_send(struct store *st, const struct config *cfg,
    const struct list_info *li, size_t *posts_r);

/* The queue runner's check: send every digest due at now. */
/* Before a member's delivery mode changes: the digest of what waits
 * goes out now, to the members in digest mode so far, so that nobody
 * gets a post twice (an each member turning digest got them one by one)
 * or never (a digest member turning each). 0, or -1 when it could not
 * be sent (the mode must not change then). Not inside a transaction. */
int list_digest_flush(struct store *st, const struct config *cfg,
    const char *list);
void list_digest_run(struct store *st, const struct config *cfg,
    time_t now);

#endif
