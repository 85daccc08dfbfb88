/* store_list_digest: the SQL of list digests (migration 9 -> 10 in
 * store_sql.c): a list's digest options, its members' delivery mode
 * (each or digest), and the posts waiting for the next digest. A digest
 * being sent claims its posts (batch = the issue number) and deletes
 * them once its copies are queued; posts a crash left claimed are taken
 * again after LIST_DIGEST_CLAIM_TTL, so a post may reach a digest twice
 * but never none. Addresses are lower case (store_list.h). */
#ifndef MOAT_STORE_LIST_DIGEST_H
#define MOAT_STORE_LIST_DIGEST_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "store.h"

#define LIST_DIGEST_SIZE_DEFAULT	(40 * 1024)	/* octets */
#define LIST_DIGEST_INTERVAL_DEFAULT	86400	/* seconds */
#define LIST_DIGEST_TOTAL_MAX	(64 * 1024 * 1024)	/* waiting, a list */
#define LIST_DIGEST_POSTS_MAX	1000	/* posts in one digest */
#define LIST_DIGEST_CLAIM_TTL	3600	/* a claim left by a crash */
#define LIST_DIGEST_DUE_MAX	1000	/* lists sent by one check */
#define LIST_DIGEST_INTERVAL_MIN	60
#define LIST_DIGEST_INTERVAL_MAX	(366 * 86400)

/* list set KEY=VALUE for digest (on|off), digest_size (octets, with K,
 * M or G; at most LIST_DIGEST_TOTAL_MAX) and digest_interval (a
 * duration, 1m..366d) of the list at address: 0 set, -1 with *error_r
 * (a bad value, a database error), 1 key is none of these. */
int store_list_digest_set(struct store *st, const char *address,
    const char *key, const char *value, const char **error_r);

/* A member's delivery mode: "each" or "digest" (only when the list
 * offers a digest). 0, or -1 with *error_r ("no such member", ...). */
int store_list_member_mode(struct store *st, const char *list,
    const char *address, const char *mode, const char **error_r);

/* How many active members of list take the digest: 0 or -1. */
int store_list_digest_members(struct store *st, const char *list,
    size_t *n_r);

/* Keep post (the queue id of the post) for list's next digest; kept
 * once (a retried expansion adds nothing). *waiting_r: the octets of
 * the list's unclaimed waiting posts after it. -1 with *error_r also
 * when the list already holds LIST_DIGEST_TOTAL_MAX octets. */
int store_list_digest_add(struct store *st, const char *list,
    const char *post, time_t now, const uint8_t *data, size_t len,
    uint64_t *waiting_r, const char **error_r);

/* Claim the next digest of list: the issue number goes up, the oldest
 * unclaimed waiting posts, at most LIST_DIGEST_POSTS_MAX of them and
 * max_octets together (but always the first, whatever its size), are
 * given to cb and belong to batch *issue_r. Returns how many (0: none
 * waiting, the issue number is kept), or -1. */
typedef void store_digest_post_cb(void *ctx, int64_t id, time_t time,
    const uint8_t *data, size_t len);
int store_list_digest_claim(struct store *st, const char *list, time_t now,
    uint64_t max_octets, uint64_t *issue_r, store_digest_post_cb *cb,
    void *ctx);
/* The digest of batch is queued: its posts' data goes; each stays
 * marked as sent, so that adding the same post again (a retried
 * expansion) is ignored, until store_list_digest_prune. 0 or -1. */
int store_list_digest_done(struct store *st, const char *list,
    uint64_t batch);
/* It failed: give its posts back to the next digest. 0 or -1. */
int store_list_digest_release(struct store *st, const char *list,
    uint64_t batch);

/* The lists whose digest is due at now, to cb (a row of one column, the
 * list address): the oldest waiting post waited digest_interval, or
 * they reach digest_size octets, or the list stopped offering a digest
 * (what waits goes out). At most LIST_DIGEST_DUE_MAX. 0 or -1. */
int store_list_digest_due(struct store *st, time_t now, store_row_cb *cb,
    void *ctx);

/* Posts and octets waiting for list's digest (claimed ones too). */
int store_list_digest_pending(struct store *st, const char *list,
    uint64_t *posts_r, uint64_t *octets_r);

/* Forget the posts sent in a digest before the time they arrived
 * (the queue runner: past the longest a post can be retried). *n_r:
 * rows deleted. 0 or -1. */
int store_list_digest_prune(struct store *st, time_t before,
    unsigned *n_r);

#endif
