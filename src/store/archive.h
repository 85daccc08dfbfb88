/* archive: the mail archive. Every archived message is one file,
 *
 *   <data_dir>/archive/<domain>/<in|out>/<YYYY-MM>/<YYYY-MM-DD>/<queue id>
 *
 * holding a small text envelope (ARCHIVE_MAGIC, then "key value" lines:
 * id, direction, domain, time, queued, from, rcpt..., ip, helo, service,
 * session, auth, authres; a blank line) and then the message bytes. Days
 * are UTC. A message with several local recipients in one domain is
 * stored once: the caller archives per queue id, direction and domain.
 *
 * Tamper evidence: each day directory has an append-only "index", one
 * line per message (ARCHIVE_INDEX_FIELDS tab-separated fields):
 *
 *   id dir time size sha256(file) sha256(previous line) from to
 *   header-from header-to subject snippet
 *
 * The hash of the previous line is over its bytes without the newline.
 * The first line of a day chains from a fixed seed, SHA-256 of
 * "moat-archive-v1 <domain> <in|out> <YYYY-MM-DD>", so days stand alone
 * (a message queued for days may still be archived into an old day, and
 * expiring a day never breaks the next one) and an index moved to another
 * day or domain does not verify. Appends hold flock(LOCK_EX) on the index
 * and are fsync'd; readers take LOCK_SH. The chain shows edited, removed
 * or reordered lines; it cannot show a whole day deleted together with
 * its directory, nor an attacker who rewrites the index from the edited
 * line on (anchor the hashes verify prints elsewhere for that).
 *
 * archive_expire logs each removed day in <domain>/expired ("<in|out>
 * <YYYY-MM-DD> <lines> <last line hash> <removed at>") before removing it,
 * so an interrupted expiry is finished quietly and verify does not report
 * its remains. Files are written to <data_dir>/archive/.tmp, fsync'd,
 * renamed into the day and the day fsync'd before the index line is
 * appended: a crash leaves at worst a file without its line, which the
 * next archive_put of that id repairs. */
#ifndef MOAT_ARCHIVE_H
#define MOAT_ARCHIVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "queue.h"

#define ARCHIVE_MAGIC		"MOATA1"
#define ARCHIVE_SEED		"moat-archive-v1"
#define ARCHIVE_INDEX_FIELDS	12
#define ARCHIVE_HASH_HEX	64	/* SHA-256 in lower-case hex */
#define ARCHIVE_DOMAIN_MAX	255
#define ARCHIVE_ADDR_MAX	512	/* an index address field, octets */
#define ARCHIVE_TO_MAX		1024	/* recipients joined with ',' */
#define ARCHIVE_SUBJECT_MAX	512
#define ARCHIVE_SNIPPET_MAX	200	/* first body octets, sanitized */
#define ARCHIVE_AUTHRES_MAX	4096	/* Authentication-Results kept */
#define ARCHIVE_LINE_MAX	8192	/* an index line incl. newline */
#define ARCHIVE_FILE_MAX	((size_t)1 << 30)	/* read bound */
#define ARCHIVE_TEXT_MAX	(16 * 1024 * 1024)	/* --text scan */
#define ARCHIVE_DAY_LEN		10	/* YYYY-MM-DD */

enum archive_direction {
	ARCHIVE_IN = 0,
	ARCHIVE_OUT,
};

/* One parsed index line. Strings are NUL-terminated copies. */
struct archive_entry {
	char			 id[QUEUE_ID_LEN + 1];
	enum archive_direction	 direction;
	int64_t			 time;
	uint64_t		 size;		/* message octets */
	char			 file_hash[ARCHIVE_HASH_HEX + 1];
	char			 prev_hash[ARCHIVE_HASH_HEX + 1];
	char			 from[ARCHIVE_ADDR_MAX + 1];	/* envelope */
	char			 to[ARCHIVE_TO_MAX + 1];	/* envelope */
	char			 hfrom[ARCHIVE_ADDR_MAX + 1];	/* header */
	char			 hto[ARCHIVE_TO_MAX + 1];	/* header */
	char			 subject[ARCHIVE_SUBJECT_MAX + 1];
	char			 snippet[ARCHIVE_SNIPPET_MAX + 1];
};

const char *archive_direction_name(enum archive_direction d);
/* "in" / "out"; -1 for anything else. */
int archive_direction_parse(const char *s, enum archive_direction *d_r);

/* Parse one index line (len octets, without the newline). Pure: no I/O,
 * never reads past len. Returns 0, or -1 with *error_r set. */
int archive_index_parse(const char *line, size_t len,
    struct archive_entry *e, const char **error_r);
/* Format e as an index line with its newline into dst. Fields are
 * sanitized (control octets become spaces) and cut to their limits at a
 * UTF-8 boundary. Returns the length, or -1 when it does not fit. */
int archive_index_format(const struct archive_entry *e, char *dst,
    size_t dstlen);
/* The chain seed of a day, hex. */
void archive_seed(const char *domain, enum archive_direction d,
    const char *day, char hex[ARCHIVE_HASH_HEX + 1]);

/* Archive msg (len octets) for domain. Blocking (fsyncs): run it in the
 * thread pool. Idempotent: the same queue id again for the same domain
 * and direction returns 0 without writing. env->id names the file; when
 * gives the day. Returns 0, or -1 with *error_r set (and errno). */
int archive_put(const char *data_dir, const char *domain,
    enum archive_direction direction, const struct queue_envelope *env,
    const uint8_t *msg, size_t len, time_t when, const char **error_r);

/* Verify every day from since (0: all) on. cb gets one call per problem:
 * the path concerned and what is wrong ("missing file", "altered file",
 * "chain broken", "not in index", "bad index line", ...). */
struct archive_verify_result {
	size_t	messages;	/* index lines checked */
	size_t	days;
	size_t	problems;
};
typedef void archive_problem_cb(void *ctx, const char *path,
    const char *problem);
int archive_verify(const char *data_dir, time_t since,
    archive_problem_cb *cb, void *ctx, struct archive_verify_result *res,
    const char **error_r);

/* Search filters; NULL / 0 fields do not filter. from and to match the
 * envelope or the header addresses, subject the decoded Subject; all are
 * case-insensitive substrings. text scans the decoded text parts of the
 * stored message (and its subject). until is inclusive. */
struct archive_query {
	const char		*from;
	const char		*to;
	const char		*subject;
	const char		*text;
	const char		*domain;
	time_t			 since;
	time_t			 until;
	bool			 any_direction;	/* false: only direction */
	enum archive_direction	 direction;
};
/* One hit: the entry, its domain and the stored file's path. Return 0
 * to go on, non-zero to stop the search. */
typedef int archive_hit_cb(void *ctx, const char *domain, const char *path,
    const struct archive_entry *e);
/* In order of domain, direction, day and index line. Returns the number
 * of hits, or -1 with *error_r set. */
long archive_search(const char *data_dir, const struct archive_query *q,
    archive_hit_cb *cb, void *ctx, const char **error_r);

/* Write the matching messages to out as an mboxrd (RFC 4155) mailbox:
 * a "From sender date" line, the message with CRLF made LF and any line
 * matching ^>*From  quoted with one more '>', and a blank line. Returns
 * the number of messages, or -1 with *error_r set. */
long archive_export_mbox(const char *data_dir, const struct archive_query *q,
    FILE *out, const char **error_r);
/* mboxrd-quote one stored message (no From line) to out. */
int archive_mbox_write(FILE *out, const uint8_t *msg, size_t len);

/* Remove every day of domain (both directions) that ended before
 * older_than. Returns the number of days removed, or -1. */
long archive_expire(const char *data_dir, const char *domain,
    time_t older_than, const char **error_r);

#endif
