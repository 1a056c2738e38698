# Error estimate against true error (smooth functions) — each point an entry of a numerical gradient; above the line the estimate covers the true error
# Re-plot: gnuplot checker-estimate-vs-true.gp   (reads checker-estimate-vs-true.csv, writes checker-estimate-vs-true.svg)
set terminal svg size 720,440 dynamic enhanced font 'Helvetica,12' background rgb 'white'
set output 'checker-estimate-vs-true.svg'
set datafile separator ','
set key autotitle columnhead
set title "Error estimate against true error (smooth functions)"
set logscale xy
set format x '10^{%L}'
set format y '10^{%L}'
set xlabel 'true relative error'
set ylabel 'estimated relative error'
set key top left
set grid
plot 'checker-estimate-vs-true.csv' using 1:2 with points pt 7 ps 0.4 lc rgb '#1f77b4' title 'Double',      '' using 1:3 with points pt 7 ps 0.4 lc rgb '#d62728' title 'Float',      x with lines lc rgb 'black' dt 2 title 'estimate = true error'
