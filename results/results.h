// results/results.h: everything of results/ in one include: the run record, the run file
// (HDF5), `twla show` text, report tables and gnuplot plots.
#pragma once
#include "results/plot.h"
#include "results/report.h"
#include "results/run_file.h"
#include "results/run_record.h"
