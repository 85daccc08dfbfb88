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
 * changed flags (with UID when with_uid). Returns the number of
 * responses, or -1 when out is full. */
int imap_view_updates(const struct mailbox_msg *old, size_t nold,
    const struct mailbox_msg *cur, size_t ncur, bool with_uid,
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
