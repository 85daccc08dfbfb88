/* bayes: placeholder, being written. */
#ifndef MOAT_BAYES_H
#define MOAT_BAYES_H
#endif
