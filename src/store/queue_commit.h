/* queue_commit: acknowledged-means-durable, cheaply. Each message is
 * written and fsync'd in libuv's thread pool; renames into queue/msg are
 * then made durable by one directory fsync shared by every message that
 * finished in the meantime (group commit). The callback runs on the loop
 * thread once the message survives a crash, or with an error. */
#ifndef MOAT_QUEUE_COMMIT_H
#define MOAT_QUEUE_COMMIT_H

#include <uv.h>

#include "buf.h"
#include "queue.h"

typedef void queue_commit_cb(void *ctx, int err /* 0 or errno */);

struct queue_commit;

struct queue_commit *queue_commit_new(uv_loop_t *loop, const char *data_dir);
void queue_commit_free(struct queue_commit **qc);

/* Queue env + msg for id. The buffers must stay untouched until cb. */
void queue_commit_submit(struct queue_commit *qc, const char *id,
    const struct buf *env, const struct buf *msg, queue_commit_cb *cb,
    void *ctx);
/* Number of submissions not yet called back. */
unsigned queue_commit_pending(const struct queue_commit *qc);

#endif
