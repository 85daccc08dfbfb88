/* store_list: the SQL of mailing lists (schema: migrations 7 -> 8, 8 -> 9 in
 * store_sql.c): lists and their options, members with their state and
 * bounce count, which list address a recipient is (the list itself or
 * one of its -request, -subscribe, -unsubscribe, -owner, -bounces+...,
 * -confirm+... addresses), and single-use, expiring confirmation tokens.
 * Addresses are stored in lower case. Every function returns 0, or -1
 * with *error_r when it has one ("no such list", a database error). */
#ifndef MOAT_STORE_LIST_H
#define MOAT_STORE_LIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "buf.h"
#include "store.h"

#define LIST_ADDR_MAX		320	/* local (64) @ domain (255) */
#define LIST_NAME_MAX		128	/* display name, octets */
#define LIST_PREFIX_MAX		64	/* subject prefix, octets */
#define LIST_TOKEN_LEN		32	/* hex digits of a token */
#define LIST_ARG_MAX		(LIST_ADDR_MAX + 16)	/* after the '+' */
#define LIST_PENDING_MAX	1000	/* live (un)subscribe tokens, a list */
#define LIST_HELD_COUNT_MAX	1000	/* held posts of a list */
#define LIST_HELD_TOTAL_MAX	(256 * 1024 * 1024)	/* their octets */
#define LIST_HELD_MAX		(64 * 1024 * 1024)	/* a held post */
#define LIST_META_MAX		128	/* a token's meta text */

enum list_post { LIST_POST_MEMBERS = 0, LIST_POST_ANYONE,
	LIST_POST_MODERATED };
enum list_reply_to { LIST_REPLY_LIST = 0, LIST_REPLY_AUTHOR,
	LIST_REPLY_NONE };

struct list_info {
	char			 address[LIST_ADDR_MAX + 1];
	char			 local[65];
	char			 domain[256];
	char			 name[LIST_NAME_MAX + 1];
	enum list_post		 post;
	char			 prefix[LIST_PREFIX_MAX + 1];
	enum list_reply_to	 reply_to;
	uint64_t		 max_size;	/* 0: no limit */
	char			 moderator[LIST_ADDR_MAX + 1];	/* "" none */
	bool			 digest;	/* offers a digest */
	uint64_t		 digest_size;	/* octets that send one */
	uint64_t		 digest_interval;	/* seconds */
};

/* Which of a list's addresses a recipient is. */
enum list_role {
	LIST_ROLE_NONE = 0,	/* not a list address */
	LIST_ROLE_POST,		/* LIST@ */
	LIST_ROLE_REQUEST,	/* LIST-request@: commands in the subject */
	LIST_ROLE_SUBSCRIBE,	/* LIST-subscribe@ */
	LIST_ROLE_UNSUBSCRIBE,	/* LIST-unsubscribe@ */
	LIST_ROLE_OWNER,	/* LIST-owner@: to the moderator */
	LIST_ROLE_BOUNCES,	/* LIST-bounces[+member=domain]@ */
	LIST_ROLE_CONFIRM,	/* LIST-confirm+TOKEN@ */
};

const char *list_post_name(enum list_post p);
const char *list_reply_to_name(enum list_reply_to r);
int list_post_parse(const char *s, enum list_post *r);
int list_reply_to_parse(const char *s, enum list_reply_to *r);

/* Is local@domain one of a list's addresses? *role_r NONE when not; else
 * li is the list and arg what followed the '+' ("" without one).
 * Returns 0 or -1 (database error). */
int store_list_lookup(struct store *st, const char *local,
    const char *domain, enum list_role *role_r, struct list_info *li,
    char *arg, size_t arglen);
/* The list at address. -1 with "no such list" or a database error. */
int store_list_get(struct store *st, const char *address,
    struct list_info *li, const char **error_r);

/* moatctl. li->address names the list; its domain must be ours and the
 * address no account or alias. */
int store_list_add(struct store *st, const struct list_info *li,
    const char **error_r);
/* One option: name, post, prefix, reply_to, max_size, moderator, digest,
 * digest_size, digest_interval (store_list_digest_set). */
int store_list_set(struct store *st, const char *address, const char *key,
    const char *value, const char **error_r);
int store_list_del(struct store *st, const char *address,
    const char **error_r);
/* rows: address, name, post, active members, all members */
int store_list_all(struct store *st, store_row_cb *cb, void *ctx);
/* rows: address, state, bounces, joined (ISO 8601), token, mode */
int store_list_members(struct store *st, const char *list, store_row_cb *cb,
    void *ctx);

/* Add member (or change its state when it is there): state "active",
 * "pending" or "disabled"; active resets the bounce count. *created_r
 * (may be NULL) tells whether the row is new. */
int store_list_member_put(struct store *st, const char *list,
    const char *address, const char *state, bool *created_r,
    const char **error_r);
/* "no such member" when it is not there. */
int store_list_member_del(struct store *st, const char *list,
    const char *address, const char **error_r);
/* The member's state ("" when not a member) and its unsubscribe token
 * (token may be NULL). 0 or -1. */
int store_list_member_state(struct store *st, const char *list,
    const char *address, char state[16], char *token, size_t tokenlen);
/* Count a bounce of member; at limit it becomes disabled. *count_r the
 * new count, *disabled_r whether this bounce disabled it. 0, or -1
 * ("no such member" or a database error). */
int store_list_bounce(struct store *st, const char *list,
    const char *address, unsigned limit, unsigned *count_r,
    bool *disabled_r, const char **error_r);

/* A new token for action ("subscribe", "unsubscribe", "approve") on
 * address, living ttl seconds; data (may be NULL) kept with it (a held
 * post), and meta (may be NULL; at most LIST_META_MAX octets: the held
 * post's envelope facts, list_request.c). An older token for the same list, address and action is
 * replaced; expired tokens are removed. 0 or -1 (also past
 * LIST_PENDING_MAX live subscribe / unsubscribe tokens for the list, or
 * for "approve" LIST_HELD_COUNT_MAX held posts or LIST_HELD_TOTAL_MAX
 * octets of them). */
int store_list_token_new(struct store *st, const char *list,
    const char *address, const char *action, unsigned ttl,
    const uint8_t *data, size_t len, const char *meta,
    char token[LIST_TOKEN_LEN + 1], const char **error_r);
/* Take (delete) a token: 1 with list, address, action (and data, meta
 * when not NULL) when it existed and had not expired, 0 when not, -1 on
 * a database error. Inside the caller's transaction when it has one. */
int store_list_token_take(struct store *st, const char *token,
    char list[LIST_ADDR_MAX + 1], char address[LIST_ADDR_MAX + 1],
    char action[16], struct buf *data, char meta[LIST_META_MAX + 1]);
/* A token's list and action without taking it: 1 when it exists and
 * has not expired, 0 when not, -1 on a database error. */
int store_list_token_peek(struct store *st, const char *token,
    char list[LIST_ADDR_MAX + 1], char action[16]);
/* rows: token, address, action, expires (ISO 8601), size of data */
int store_list_tokens(struct store *st, const char *list, store_row_cb *cb,
    void *ctx);

/* "BEGIN IMMEDIATE", "COMMIT" or "ROLLBACK" (moatctl list add makes a
 * list and sets its options in one transaction): 0 or -1. */
int store_list_tx(struct store *st, const char *verb);

/* RCPT policy for local@domain: 0 accept (or not a list), 1 refuse with
 * *code_r and text (550 5.7.1 the null sender posting to a members-only
 * list; 552 5.3.4 a SIZE over the list's max_size), -1 database error.
 * sender is the envelope sender ("" null); size the SIZE (0 none). Who
 * else may post to a members-only list needs the From: field: it is
 * decided at the end of DATA (list_data_policy in list_expand.h). */
int store_list_rcpt_policy(struct store *st, const char *local,
    const char *domain, const char *sender, uint64_t size, int *code_r,
    char *text, size_t textlen);

/* Hourly housekeeping (queue runner): delete tokens expired at now, and
 * pending members whose subscribe token is gone (their confirmation
 * expired). *tokens_r, *pending_r: rows deleted. 0 or -1 (logged). */
int store_list_prune(struct store *st, time_t now, unsigned *tokens_r,
    unsigned *pending_r);

/* The secret (migration 8 -> 9) keying the HMAC of VERP addresses
 * (list_verp_tag). 0 or -1. */
#define LIST_VERP_KEY_LEN	32
int store_list_verp_key(struct store *st, uint8_t key[LIST_VERP_KEY_LEN]);

/* Is address one of any list's addresses (the list or a role address:
 * store_list_lookup)? moatctl account add / alias add refuse those. 1
 * yes, 0 no, -1 database error. */
int store_list_address_used(struct store *st, const char *address);

/* One-click unsubscribe (RFC 8058): the member of list whose unsubscribe
 * token is token, into address; with remove, that member is also
 * deleted. 1 found, 0 no such member, -1 with *error_r (database). */
int store_list_member_by_token(struct store *st, const char *list,
    const char *token, bool remove, char address[LIST_ADDR_MAX + 1],
    const char **error_r);

#endif
