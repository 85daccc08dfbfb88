/* quota: per-account storage quota (moatctl account set ADDR quota=SIZE),
 * checked at SMTP RCPT, at local delivery and at IMAP APPEND, and shown
 * by IMAP GETQUOTA (RFC 9208).
 *
 * Usage is measured on the Maildir itself: the octets and the number of
 * the files in cur/ and new/ of INBOX and of every Maildir++ folder, so
 * that it counts mail no IMAP session has seen yet. The scan costs one
 * stat per message; it is bounded by QUOTA_FILES_MAX (past it the count
 * stops and the mailbox is treated as full).
 *
 * SECURITY: the Maildir path comes from maildir_path() (checked local
 * part and domain); entries are looked at with fstatat() without
 * following symlinks. */
#ifndef MOAT_QUOTA_H
#define MOAT_QUOTA_H

#include <stdint.h>

#include "store.h"

#define QUOTA_FILES_MAX		2000000	/* files one scan looks at */
#define QUOTA_FOLDERS_MAX	10000

struct quota_usage {
	uint64_t	bytes;
	uint64_t	messages;
	bool		truncated;	/* QUOTA_FILES_MAX reached */
};

enum quota_result {
	QUOTA_OK = 0,
	QUOTA_FULL,		/* at or over the limit: 452 4.2.2, temporary */
	QUOTA_TOO_BIG,		/* this message does not fit: 552 5.2.2 */
};

/* Measure the Maildir at maildir. A missing Maildir is empty. Returns 0,
 * or -1 (I/O error) with errno. */
int quota_usage(const char *maildir, struct quota_usage *u);

/* Would a message of size octets (0: unknown) fit in the account
 * local@domain (an account, not an alias)? *limit_r (when not NULL)
 * gets the quota, 0 for none. Returns 0 with *r, or -1 on a database or
 * I/O error (the caller temp-fails). */
int quota_check(struct store *st, const char *data_dir, const char *local,
    const char *domain, uint64_t size, enum quota_result *r,
    uint64_t *limit_r);

#endif
