/* imap_junk: users teach the spam filter with their IMAP moves. A COPY or
 * MOVE (and the UID forms) into the Junk folder from elsewhere learns
 * each message as spam for that user (and globally), and so does an
 * APPEND into Junk (a client moving a message in from another account,
 * or without MOVE); one out of Junk into any folder but the trash
 * learns it as ham (bayes unlearns the spam first). Learning runs in
 * libuv's thread pool after the command is answered: it never delays or
 * fails the command.
 *
 * Use in a COPY/MOVE handler (APPEND: imap_junk_begin_append):
 *	struct imap_junk *j = imap_junk_begin(s, dest_folder);
 *	for each message copied: imap_junk_add(j, data, len);
 *	imap_junk_commit(&j);	(or imap_junk_free(&j) if the copy failed)
 * With nothing to learn imap_junk_begin() returns NULL and the other
 * calls do nothing. */
#ifndef MOAT_IMAP_JUNK_H
#define MOAT_IMAP_JUNK_H

#include <stddef.h>
#include <stdint.h>

#define IMAP_JUNK_MSGS_MAX	1000	/* learned per command */
#define IMAP_JUNK_MSG_MAX	(1024u * 1024)	/* larger: skipped */
#define IMAP_JUNK_PENDING_MAX	(64u * 1024 * 1024)	/* octets queued
							   per process */

struct imap_session;
struct imap_junk;

/* The learning a COPY/MOVE of the selected folder's messages into the
 * on-disk folder to starts, or NULL when it teaches nothing. */
struct imap_junk *imap_junk_begin(struct imap_session *s, const char *to);
/* The same for a message APPENDed to the on-disk folder to. */
struct imap_junk *imap_junk_begin_append(struct imap_session *s,
    const char *to);
/* A message copied (untrusted octets; kept in a copy). */
void imap_junk_add(struct imap_junk *j, const uint8_t *msg, size_t len);
/* Queue the learning and let go of j. */
void imap_junk_commit(struct imap_junk **j);
void imap_junk_free(struct imap_junk **j);

#endif
