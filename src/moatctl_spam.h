/* moatctl_spam: placeholder, being written. */
#ifndef MOAT_MOATCTL_SPAM_H
#define MOAT_MOATCTL_SPAM_H

#include "config.h"

/* argv[0] is "spam". Returns the process exit code. */
int moatctl_spam(const struct config *cfg, int argc, char **argv);

#endif
