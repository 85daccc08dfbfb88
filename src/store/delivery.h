/* delivery: one attempt at delivering one queued message, in three steps:
 * local (thread pool: read the queue file, expand every pending recipient,
 * write local copies to Maildir), remote (loop thread: the outbound
 * scheduler sends to the recipients outside our domains), and finish
 * (thread pool: record per-recipient progress, queue DSNs for permanent
 * failures, expired messages and long delays, remove the queue file when
 * every recipient is done). */
#ifndef MOAT_DELIVERY_H
#define MOAT_DELIVERY_H

#include <stdbool.h>
#include <time.h>

#include <uv.h>

#include "config.h"

struct outbound;

struct delivery_ctx {
	const struct config	*cfg;
	uv_loop_t		*loop;
	struct outbound		*outbound;
};

struct delivery_outcome {
	bool		 finished;	/* queue file gone: nothing left */
	unsigned	 attempts;	/* attempts so far, this one included */
	char		 error[256];	/* why something is still pending */
	bool		 held;		/* on hold: wait for a release */
};

typedef void delivery_cb(void *arg, const struct delivery_outcome *o);

/* recovered: the message may have been delivered before a crash (the
 * Maildir check also looks in cur/). cb runs on the loop thread. */
void delivery_start(struct delivery_ctx *dc, const char *id, bool recovered,
    delivery_cb *cb, void *arg);

#endif
