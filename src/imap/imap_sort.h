/* imap_sort: pure helpers for SORT and THREAD (RFC 5256): base subject
 * extraction (section 2.1), sent dates, the sort order (section 3) and
 * the ORDEREDSUBJECT and REFERENCES threading algorithms. No I/O: the
 * command handler (imap_cmd_sort.c) reads the messages and fills one
 * struct imap_sort_msg each. Comparisons are i;ascii-casemap. */
#ifndef MOAT_IMAP_SORT_H
#define MOAT_IMAP_SORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "imap_parser.h"

/* Message IDs a References field may name before the rest is ignored. */
#define IMAP_THREAD_REFS_MAX	256
#define IMAP_THREAD_ID_MAX	998	/* one message ID, octets */

struct imap_sort_msg {
	uint32_t	 num;		/* what the answer shows: seq or UID */
	uint32_t	 seq;		/* tie-breaker */
	int64_t		 arrival;	/* INTERNALDATE, seconds UTC */
	int64_t		 date;		/* sent date (arrival if none) */
	uint64_t	 size;
	const char	*subject;	/* base subject (imap_base_subject) */
	bool		 reply;		/* Re:/Fwd: was removed from it */
	const char	*from, *to, *cc;	/* first addr-mailbox, or "" */
	const char	*msgid;		/* Message-ID field value, or NULL */
	const char	*refs;		/* References, else In-Reply-To */
};

/* The base subject of a decoded (UTF-8) subject into out, NUL-terminated
 * (RFC 5256 2.1); *reply_r tells whether a reply/forward marker was
 * removed. Returns 0, or -1 when out is full. */
int imap_base_subject(const char *subject, struct buf *out, bool *reply_r);
/* The time of an RFC 5322 date-time (seconds UTC), or -1. */
int64_t imap_sort_date(const char *value);

/* Sort msgs by the criteria (then by sequence number). */
void imap_sort_msgs(struct imap_sort_msg *msgs, size_t n,
    const struct imap_sort_criterion *crit, size_t ncrit);

/* Append the body of a THREAD response ("(2)(3 6 (4 23)(44 7 96))") for
 * msgs (in sequence order). Returns 0, or -1 when out is full. */
int imap_thread_orderedsubject(struct imap_sort_msg *msgs, size_t n,
    struct buf *out);
int imap_thread_references(const struct imap_sort_msg *msgs, size_t n,
    struct buf *out);

#endif
