/* dynscreen: placeholder, being written. */
#ifndef MOAT_DYNSCREEN_H
#define MOAT_DYNSCREEN_H
#endif
