/* outbreak: (not written yet). */
#ifndef MOAT_OUTBREAK_H
#define MOAT_OUTBREAK_H
#endif
