/* archive_queue: what the queue runner archives ([archive]): every
 * message once per local domain it concerns, before delivery: "in" for
 * the domains of its local recipients when it came from outside, "out"
 * for the sender's domain when a local account submitted it. A failed
 * archive write never holds the mail back: the message is copied to
 * <data_dir>/archive/.retry and archived from there later. */
#ifndef MOAT_ARCHIVE_QUEUE_H
#define MOAT_ARCHIVE_QUEUE_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "queue.h"

struct store;

/* Blocking (a pool thread of the runner). Logs what fails. */
void archive_message(const struct config *cfg, struct store *st,
    const struct queue_envelope *env, const uint8_t *msg, size_t len);
/* Archive what .retry holds, and remove days past [archive] retention.
 * Blocking; the runner calls it from a pool thread now and then. */
void archive_maintain(const struct config *cfg);

#endif
