# The authors' rule on stationary data against channel scale spread — share of stationary steps (M = 4, 64 tokens) on which the authors' rule skips, per channel count
# Re-plot: gnuplot filter-channel-spread.gp   (reads filter-channel-spread.csv, writes filter-channel-spread.svg)
set terminal svg size 720,440 dynamic enhanced font 'Helvetica,12' background rgb 'white'
set output 'filter-channel-spread.svg'
set datafile separator ','
set key autotitle columnhead
set title "The authors' rule on stationary data against channel scale spread"
set logscale x
set xlabel 'cross-channel scale spread (largest / smallest)'
set ylabel 'fires (% of stationary steps)'
set yrange [-5:105]
set key top right
set grid
plot for [i=2:6] 'filter-channel-spread.csv' using 1:i with linespoints pt 7 ps 0.6 title columnhead(i)
