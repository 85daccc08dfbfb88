/* queue_runner: the delivery process. Watches queue/msg (inotify through
 * libuv, plus a periodic rescan), delivers each message to its local
 * recipients' Maildirs in the thread pool, retries temporary failures with
 * exponential backoff, and removes a queue file only when every recipient
 * is done. */
#ifndef MOAT_QUEUE_RUNNER_H
#define MOAT_QUEUE_RUNNER_H

#include "config.h"

/* Runs until SIGTERM; returns the exit code. */
int queue_runner_main(const struct config *cfg);

#endif
