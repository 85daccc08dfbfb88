/* moatctl_archive: "moatctl archive verify|search|export|expire", the
 * admin side of the mail archive (src/store/archive.h). */
#ifndef MOAT_MOATCTL_ARCHIVE_H
#define MOAT_MOATCTL_ARCHIVE_H

#include "config.h"

/* argv[0] is "archive". Returns the process exit code. */
int moatctl_archive(const struct config *cfg, int argc, char **argv);

#endif
