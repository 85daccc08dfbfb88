/* store_security: the SQL of account security (schema 6): addresses an
 * account logged in from (password spraying spares them), the addresses
 * an account has written to (first-time recipients of hijack
 * detection), and the freeze of a hijacked account with the single-use
 * token that unfreezes it. */
#ifndef MOAT_STORE_SECURITY_H
#define MOAT_STORE_SECURITY_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "store.h"

#define STORE_TOKEN_LEN		32	/* hex characters of a token */
#define STORE_FREEZE_REASON_MAX	256

/* A successful login of account from ip (kept with the time). 0/-1. */
int store_account_ip_record(struct store *st, const char *account,
    const char *ip, time_t now);
/* Has account logged in from ip before? 0 with *known, or -1. */
int store_account_ip_known(struct store *st, const char *account,
    const char *ip, bool *known);

/* Record that account wrote to rcpts; *fresh_r: how many of them it had
 * never written to before. 0 or -1. */
int store_sent_rcpts(struct store *st, const char *account,
    char *const *rcpts, size_t n, time_t now, unsigned *fresh_r);

/* Freeze account with reason and a new token (written to token, which
 * holds STORE_TOKEN_LEN + 1). *was_frozen_r: it was already frozen
 * (nothing changed, token is the existing one). 0, or -1 with *error_r
 * (no such account, database error). */
int store_account_freeze(struct store *st, const char *account,
    const char *reason, time_t now, char *token, bool *was_frozen_r,
    const char **error_r);
/* Unfreeze account: 0, or -1 with *error_r (not frozen, no such
 * account, database error). */
int store_account_unfreeze(struct store *st, const char *account,
    const char **error_r);
/* Unfreeze the account whose token this is (the token is used up):
 * 0 with the address in account (len bytes), 1 when no frozen account
 * has that token, -1 on a database error. */
int store_unfreeze_by_token(struct store *st, const char *token,
    char *account, size_t len);
/* Is account frozen? 0 with *frozen (and the reason, when reason is not
 * NULL), or -1. */
int store_account_frozen(struct store *st, const char *account,
    bool *frozen, char *reason, size_t reasonlen);
/* Frozen accounts: rows of address, frozen at (ISO 8601), reason. */
int store_frozen_list(struct store *st, store_row_cb *cb, void *ctx);

#endif
