# Detection power, Double — share of single-entry planted errors of each relative size caught as a mismatch at that entry (target: 1e-8 in ≥ 99% of trials)
# Re-plot: gnuplot checker-power-double.gp   (reads checker-power-double.csv, writes checker-power-double.svg)
set terminal svg size 720,440 dynamic enhanced font 'Helvetica,12' background rgb 'white'
set output 'checker-power-double.svg'
set datafile separator ','
set key autotitle columnhead
set title "Detection power, Double"
set logscale x
set format x '10^{%L}'
set xrange [*:*] reverse
set yrange [0:105]
set xlabel 'planted relative error'
set ylabel 'detected (%)'
set key outside right top font ',9'
set grid
set arrow from 1e-8, graph 0 to 1e-8, graph 1 nohead dt 2 lc rgb 'gray40'
plot for [i=2:11] 'checker-power-double.csv' using 1:i with linespoints pt 7 ps 0.5 title columnhead(i)
