/* moatctl_quarantine: the "moatctl quarantine ..." commands. */
#ifndef MOAT_MOATCTL_QUARANTINE_H
#define MOAT_MOATCTL_QUARANTINE_H

#include "config.h"

/* argv[0] is "quarantine". Returns the process exit code. */
int moatctl_quarantine(const struct config *cfg, int argc, char **argv);

#endif
