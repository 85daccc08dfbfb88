/* mailbox: the per-account mailbox index shared by POP3 and IMAP.
 *
 * One SQLite database (WAL) per account at <maildir>/moat-index.db holds,
 * for every folder (INBOX is the Maildir root; Maildir++ subfolders such
 * as ".Sent" are named "Sent"), UIDVALIDITY, UIDNEXT and HIGHESTMODSEQ,
 * and per message its UID (RFC 3501 2.3.1.1: ascending, never reused
 * while UIDVALIDITY stays), the Maildir base name (before ":2,"), the
 * current file name in cur/, RFC822.SIZE (octets with CRLF line ends),
 * the internal date, the flags of the ":2," suffix, IMAP keywords, a
 * MODSEQ and the cached IMAP ENVELOPE, BODY and BODYSTRUCTURE strings
 * (mailbox_cache_get/put; Maildir files never change: a sync stores the
 * ENVELOPE of each new file from the header it reads to count the size,
 * the first FETCH that parses the file the rest); and the UIDs expunged with the MODSEQ of the expunge (RFC 7162
 * QRESYNC; kept for the life of the UIDVALIDITY).
 *
 * mailbox_sync() makes the index match the directory: new/ files move to
 * cur/, unknown files get UIDs in a stable order (the time in the name,
 * then the name), rows whose files vanished are dropped, and a missing or
 * inconsistent index is rebuilt with a new UIDVALIDITY. Every change runs
 * inside BEGIN IMMEDIATE, so workers syncing the same mailbox at once
 * never hand out a UID twice. The index is a cache of the Maildir:
 * deleting moat-index.db loses nothing but UID continuity.
 *
 * POP3 needs exclusive access for a whole session (RFC 1939 8):
 * mailbox_pop3_lock() takes flock(LOCK_EX) on <maildir>/moat-pop3.lock
 * through a descriptor of its own. The kernel drops the lock when the
 * holder closes it or dies, so a crashed worker leaves no stale lock.
 *
 * SECURITY: file names in the Maildir are untrusted (any local tool or
 * another server may have written them): names with '/' or starting with
 * '.' are skipped, lengths are bounded, and SQL uses bound parameters
 * only. The SQL text of this database lives in mailbox.c, since the file
 * and its schema belong to this module, not to moat.db (store_sql.c). */
#ifndef MOAT_MAILBOX_H
#define MOAT_MAILBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define MAILBOX_INDEX_NAME	"moat-index.db"
#define MAILBOX_LOCK_NAME	"moat-pop3.lock"
#define MAILBOX_NAME_MAX	255	/* a Maildir file name, octets */
#define MAILBOX_FOLDER_MAX	200	/* a folder name, octets */
/* Files in one folder a sync looks at; past it the sync fails rather
 * than growing memory without bound. */
#define MAILBOX_FILES_MAX	1000000
/* New UIDs handed out per sync call (each costs one read of the file to
 * count its size with CRLF); the rest follow on the next sync. */
#define MAILBOX_SYNC_NEW_MAX	20000
#define MAILBOX_BUSY_MS		10000	/* SQLite busy timeout */

/* Flags of the Maildir ":2," suffix (IMAP system flags). */
#define MAILBOX_F_SEEN		0x01	/* S */
#define MAILBOX_F_ANSWERED	0x02	/* R */
#define MAILBOX_F_FLAGGED	0x04	/* F */
#define MAILBOX_F_DELETED	0x08	/* T */
#define MAILBOX_F_DRAFT		0x10	/* D */

struct mailbox;

struct mailbox_status {
	uint32_t	 uidvalidity;
	uint32_t	 uidnext;
	uint64_t	 highestmodseq;
	uint32_t	 messages;
};

struct mailbox_msg {
	uint32_t	 uid;
	uint64_t	 size;		/* RFC822.SIZE: octets with CRLF */
	time_t		 internal_date;
	unsigned	 flags;		/* MAILBOX_F_* */
	uint64_t	 modseq;
	char		*base;		/* name before ":2," */
	char		*file;		/* current name in cur/ */
	char		*keywords;	/* "$Junk foo": space-separated */
};

/* Keywords of one message: their text, separators included. */
#define MAILBOX_KEYWORDS_LEN_MAX	2048

/* A flag change for mailbox_store(). */
struct mailbox_change {
	unsigned	 flags;		/* MAILBOX_F_*: the new flags */
	const char	*keywords;	/* the new keywords; NULL: unchanged */
	bool		 check_unchanged;	/* RFC 7162 UNCHANGEDSINCE */
	uint64_t	 unchangedsince;
	uint64_t	 modseq;	/* out: the message's MODSEQ after */
};

/* Open the index of folder ("INBOX" or a Maildir++ name) of the Maildir
 * at maildir, creating or rebuilding the database as needed (no sync).
 * Returns 0, or -1 with *error_r. */
int mailbox_open(const char *maildir, const char *folder,
    struct mailbox **mb_r, const char **error_r);
/* NULL-safe; sets *mb = NULL. */
void mailbox_close(struct mailbox **mb);

/* Bring the index in line with new/ and cur/ (see the top). Returns 0,
 * or -1 with *error_r (I/O or database error; the index is unchanged). */
int mailbox_sync(struct mailbox *mb, const char **error_r);
int mailbox_status(struct mailbox *mb, struct mailbox_status *st_r,
    const char **error_r);
/* Every message in UID order into a new array (free with
 * mailbox_msgs_free). Returns 0, or -1 with *error_r. */
int mailbox_list(struct mailbox *mb, struct mailbox_msg **msgs_r,
    size_t *n_r, const char **error_r);
void mailbox_msgs_free(struct mailbox_msg **msgs, size_t n);
/* Open a message file read-only: its recorded name, else (renamed by
 * another client since) the cur/ file with the same base name. Returns
 * an fd, or -1 with errno (ENOENT: the message is gone). */
int mailbox_msg_open(struct mailbox *mb, const struct mailbox_msg *msg);
/* The cached FETCH strings of one message (see mailbox_cache_get). */
struct mailbox_cache {
	uint32_t	 uid;
	char		*envelope;	/* NULL: not cached yet */
	char		*body;
	char		*bodystructure;
};

/* The cached ENVELOPE, BODY and BODYSTRUCTURE strings of the messages
 * with lo <= UID <= hi, in UID order, into a new array (free with
 * mailbox_cache_free); one query. Returns 0, or -1 with *error_r. */
int mailbox_cache_get(struct mailbox *mb, uint32_t lo, uint32_t hi,
    struct mailbox_cache **c_r, size_t *n_r, const char **error_r);
void mailbox_cache_free(struct mailbox_cache **c, size_t n);
/* Store the strings of c[0..n) (NULL members: unchanged) in one
 * transaction; UIDs no longer in the index are ignored. Returns 0, or
 * -1 with *error_r (nothing stored). */
int mailbox_cache_put(struct mailbox *mb, const struct mailbox_cache *c,
    size_t n, const char **error_r);
/* Remove messages by UID: unlink the files, delete the rows, bump
 * HIGHESTMODSEQ. UIDs not in the index are ignored. Returns the number
 * removed, or -1 with *error_r. */
int mailbox_expunge(struct mailbox *mb, const uint32_t *uids, size_t n,
    const char **error_r);
/* Replace the flags of one message (renames the file; new MODSEQ).
 * Returns 1 done, 0 no such UID, -1 with *error_r. */
int mailbox_set_flags(struct mailbox *mb, uint32_t uid, unsigned flags,
    const char **error_r);

/* Replace the flags (and keywords) of one message: renames the file,
 * gives it the next MODSEQ of the folder (ch->modseq). With
 * check_unchanged, a message whose MODSEQ is above unchangedsince is
 * left alone (ch->modseq is its MODSEQ). Returns 1 done, 0 no such UID,
 * 2 modified since, -1 with *error_r. */
int mailbox_store(struct mailbox *mb, uint32_t uid, struct mailbox_change *ch,
    const char **error_r);
/* The UIDs expunged from the folder with a MODSEQ above since, in
 * ascending order, into a new array (free()). Returns 0, or -1. */
int mailbox_vanished(struct mailbox *mb, uint64_t since, uint32_t **uids_r,
    size_t *n_r, const char **error_r);
/* Parse a Maildir file name: the base name length (before ":2,") and
 * the flags of the info part; unknown flag letters are ignored. A name
 * without ":2," has no flags. */
void mailbox_parse_name(const char *name, size_t *baselen_r,
    unsigned *flags_r);
/* The time at the start of a Maildir name ("1700000000.Q..."), or -1. */
int64_t mailbox_name_time(const char *name);

/* POP3 exclusive access. Returns an fd holding the lock (>= 0), -2 when
 * another session holds it, or -1 with *error_r. */
int mailbox_pop3_lock(const char *maildir, const char **error_r);
/* Release; NULL-safe style: ignores fd < 0, sets *fd = -1. */
void mailbox_pop3_unlock(int *fd);

#endif
