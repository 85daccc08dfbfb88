/* quarantine: held messages, <data_dir>/quarantine/<id>, one file each in
 * the queue's format (envelope with its "quarantine REASON" line, then
 * the message). The queue runner moves a message there instead of
 * delivering it; moatctl lists, shows, releases (back into the queue,
 * without the reason, so that delivery goes on) and deletes; the runner
 * removes files older than [quarantine] retention. All calls block
 * (file I/O, fsync): run them off an event loop. */
#ifndef MOAT_QUARANTINE_H
#define MOAT_QUARANTINE_H

#include <stddef.h>
#include <time.h>

#include "buf.h"
#include "queue.h"

/* Held messages kept at once, as seen by a listing. */
#define QUARANTINE_LIST_MAX 1000000

/* <data_dir>/quarantine, or <data_dir>/quarantine/<id> when id is not
 * NULL (it must be valid). Returns 0 or -1 (too long, bad id). */
int quarantine_path(const char *data_dir, const char *id, char *dst,
    size_t dstlen);

/* Move queue/msg/<id> into the quarantine (rename, or a durable copy
 * when the two are on different file systems), fsync the directory, and
 * drop the queue state. Returns 0 or -1 with errno. */
int quarantine_move(const char *data_dir, const char *id);

/* Read a held message whole (at most max bytes). 0 or -1 with errno
 * (EINVAL for a bad id, ENOENT when it is not held). */
int quarantine_read(const char *data_dir, const char *id, size_t max,
    struct buf *data_r);

/* Put a held message back into the queue without its quarantine line
 * and ask the queue runner to look now. 0, or -1 with *error_r. */
int quarantine_release(const char *data_dir, const char *id, size_t max,
    const char **error_r);

/* Remove a held message. 0 or -1 with errno. */
int quarantine_delete(const char *data_dir, const char *id);

/* The ids of the held messages, newest first (ids sort by arrival).
 * *ids_r is allocated (free each and the array). 0, or -1 with errno
 * (a missing directory is an empty list). */
int quarantine_list_ids(const char *data_dir, char ***ids_r, size_t *n_r);

/* The envelope of a held message (its first QUEUE_ENVELOPE_PEEK bytes)
 * and the file's size and modification time (when it was held). 0 or
 * -1; queue_envelope_free after. */
int quarantine_peek(const char *data_dir, const char *id,
    struct queue_envelope *env, size_t *size_r, time_t *held_r);

/* Remove the messages held since before `before`, logging each one.
 * Returns the number removed, or -1. */
int quarantine_prune(const char *data_dir, time_t before);

#endif
