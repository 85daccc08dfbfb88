/* imap_view: pure helpers for the selected-mailbox view of an IMAP
 * session (no I/O): the untagged updates between two snapshots of the
 * mailbox index (EXPUNGE with sequence renumbering, EXISTS, FETCH FLAGS),
 * flag lists, sequence-set resolution, sequence-set output and dates. */
#ifndef MOAT_IMAP_VIEW_H
#define MOAT_IMAP_VIEW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "buf.h"
#include "imap_parser.h"
#include "mailbox.h"

/* Append the untagged responses that take a client from the snapshot
 * old[0..nold) to cur[0..ncur) (both in UID order; new messages have
 * larger UIDs than every old one): "* n EXPUNGE" for each vanished
 * message (numbered as the client sees them one after the other), then
 * "* n EXISTS" when messages arrived, then "* n FETCH (FLAGS (...))" for
 * changed flags or keywords. opts: IMAP_VIEW_UID adds UID to the FETCH,
 * IMAP_VIEW_MODSEQ adds MODSEQ (CONDSTORE enabled, RFC 7162 3.2.4) and
 * a changed MODSEQ counts as a change, IMAP_VIEW_VANISHED sends one
 * "* VANISHED uids" instead of the EXPUNGEs (QRESYNC enabled). Returns
 * the number of responses, or -1 when out is full. */
#define IMAP_VIEW_UID		0x01
#define IMAP_VIEW_MODSEQ	0x02
#define IMAP_VIEW_VANISHED	0x04
int imap_view_updates(const struct mailbox_msg *old, size_t nold,
    const struct mailbox_msg *cur, size_t ncur, unsigned opts,
    struct buf *out);

/* The flags and keywords of a message ("\Seen $Junk"), no parentheses. */
int imap_msg_flags_append(const struct mailbox_msg *m, struct buf *out);
/* Is the keyword in the space-separated list (case-insensitive)? */
bool imap_keyword_has(const char *kws, struct imap_slice kw);
/* A flag that is a keyword (no backslash). */
bool imap_is_keyword(struct imap_slice f);
/* The keywords after a STORE: op 0 replaces them with the keywords of
 * fl, 1 adds them, 2 removes them. A new string (free()), or NULL when
 * it would exceed MAILBOX_KEYWORDS_LEN_MAX. */
char *imap_keywords_apply(const char *cur, int op, const struct imap_flags *fl);
/* Append the keywords used by any of msgs (each once, space-separated)
 * to out. Returns 0 or -1 (out full). */
int imap_keywords_union(const struct mailbox_msg *msgs, size_t n,
    struct buf *out);

/* "\Seen \Deleted" (no parentheses) for MAILBOX_F_* flags. */
int imap_flags_append(unsigned flags, struct buf *out);
/* A system flag name (case-insensitive, with the backslash) as
 * MAILBOX_F_*; 0 for keywords and \Recent. */
unsigned imap_flag_bit(struct imap_slice s);

/* Mark the messages a sequence set names: by sequence number (1..n) or,
 * when uid, by UID (msgs in UID order). '*' is the last message (UID:
 * the largest UID); for UIDs a range only needs to overlap. sel[] has n
 * entries. Returns the number selected. */
size_t imap_seqset_select(const struct imap_seqset *set, bool uid,
    const struct mailbox_msg *msgs, size_t n, bool *sel);

/* Is v in the set ('*' is last)? */
bool imap_seqset_has(const struct imap_seqset *set, uint64_t v,
    uint64_t last);

/* Append "1:3,7,9:10" for ascending numbers (duplicates allowed). */
int imap_numbers_append(const uint32_t *v, size_t n, struct buf *out);

/* INTERNALDATE "17-Jul-1996 02:44:25 +0000" (UTC). */
int imap_date_append(time_t t, struct buf *out);
/* The days since 1970-01-01 of a date (day precision). */
int64_t imap_days(int year, int month, int day);
/* The day (days since epoch, in the zone given) of an RFC 5322 Date
 * header value; -1 when it cannot be read. */
int64_t imap_rfc5322_day(const uint8_t *p, size_t len);
/* Case-insensitive (ASCII) substring search. */
bool imap_ci_contains(const uint8_t *hay, size_t hlen, const uint8_t *needle,
    size_t nlen);

#endif
