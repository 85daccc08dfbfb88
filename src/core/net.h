/* net: listening sockets. The master binds them (as root, for ports below
 * 1024) before forking; workers inherit the descriptors. */
#ifndef MOAT_NET_H
#define MOAT_NET_H

#include <stddef.h>

#include "config.h"

#define NET_BACKLOG 1024

/* Create a non-blocking listening TCP socket on a. Returns the fd, or -1
 * with a message in err. */
int net_listen(const struct listen_addr *a, char *err, size_t errlen);

#endif
