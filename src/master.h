/* master: the root process of moatd. */
#ifndef MOAT_MASTER_H
#define MOAT_MASTER_H

#include "config.h"

/* Prepare data_dir, TLS and listeners, fork the children and supervise
 * them until SIGTERM. Returns the process exit code. */
int master_run(const char *config_path, struct config *cfg);

#endif
