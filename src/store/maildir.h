/* maildir: delivery into <data_dir>/mail/<domain>/<local>/Maildir.
 * The file name is derived from the queue id, so delivering the same
 * queued message twice (after a crash between delivery and queue removal)
 * finds the earlier copy instead of making a duplicate: tmp -> fsync ->
 * link into new (EEXIST means already delivered) -> unlink tmp. The
 * directory fsync of new/ is left to the caller so it can be batched. */
#ifndef MOAT_MAILDIR_H
#define MOAT_MAILDIR_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/uio.h>
#include <time.h>

enum maildir_result {
	MAILDIR_DELIVERED = 0,
	MAILDIR_ALREADY = 1,	/* an earlier attempt delivered it */
	MAILDIR_ERROR = -1,	/* errno set; temporary unless EINVAL */
};

/* Path of the Maildir root for an account; -1 if the name is unsafe. */
int maildir_path(const char *data_dir, const char *domain, const char *local,
    char *dst, size_t dstlen);
/* Create Maildir/{tmp,new,cur} (0700). */
int maildir_create(const char *path);
/* The deterministic unique name: "<qtime>.Q<qid>.<host>" (host with '/'
 * and ':' encoded as the Maildir spec says). */
int maildir_name(time_t qtime, const char *qid, const char *host, char *dst,
    size_t dstlen);
/* Is the message of this name in maildir already (new/, and cur/ when
 * check_cur)? */
bool maildir_has(const char *maildir, const char *name, bool check_cur);
/* Deliver iov to maildir under name. check_cur: also look in cur/ for a
 * copy a mail client may have moved there (only needed when retrying a
 * message that may have been delivered before a crash). */
enum maildir_result maildir_deliver(const char *maildir, const char *name,
    const struct iovec *iov, int iovcnt, bool check_cur);

#endif
