/* reject_log: writes a refusal to the rejected-session log, and the
 * session's decision trace under its reference, from libuv's thread pool
 * so that a client provoking refusals never makes a worker's loop wait on
 * SQLite. Every service (SMTP, IMAP, POP3) logs refusals through here. */
#ifndef MOAT_REJECT_LOG_H
#define MOAT_REJECT_LOG_H

#include <uv.h>

#include "store.h"
#include "trace.h"

/* Every string of rej and the trace text are copied; the call returns at
 * once. A failed write is logged by the thread. */
void reject_log_submit(uv_loop_t *loop, const char *data_dir,
    const struct store_reject *rej, const struct trace *trace);

/* A refusal's log line (one place for the format):
 * "<svc> session=ID event=refused ip=IP rule=... ref=REF shadow=yes". */
void reject_log_line(const struct store_reject *rej);

#endif
