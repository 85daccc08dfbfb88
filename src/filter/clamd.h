/* clamd: placeholder, being written. */
#ifndef MOAT_CLAMD_H
#define MOAT_CLAMD_H
#endif
