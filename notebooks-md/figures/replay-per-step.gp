# Replay error per step: long-gradient-compensation — normwise relative error of the output and of ∂X at each of 1012 steps against the authors' float64 trace (exact agreement drawn at 1e-18); dashed: the tolerance
# Re-plot: gnuplot replay-per-step.gp   (reads replay-per-step.csv, writes replay-per-step.svg)
set terminal svg size 720,440 dynamic enhanced font 'Helvetica,12' background rgb 'white'
set output 'replay-per-step.svg'
set datafile separator ','
set key autotitle columnhead
set title "Replay error per step: long-gradient-compensation"
set logscale y
set format y '10^{%L}'
set yrange [1e-18:1e-10]
set xlabel 'step'
set ylabel 'normwise relative error'
set key top right
set grid
plot 'replay-per-step.csv' using 1:2 with points pt 7 ps 0.3 title 'y', \
     '' using 1:3 with points pt 7 ps 0.3 title '∂X', \
     1e-12 with lines dt 2 lc rgb 'black' title 'tolerance'
