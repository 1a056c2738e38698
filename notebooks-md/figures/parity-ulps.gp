# GPU-vs-CPU parity: error in ulps — each comparison (kernel × shape × precision × backend, 112 in all) sorted by its worst entry; median, 99th percentile and maximum difference in ulps of the CPU value (0 drawn at 0.01); the large counts are entries near 0 after cancellation, where the derived bound (from the operands' magnitudes, not the result's) allows them
# Re-plot: gnuplot parity-ulps.gp   (reads parity-ulps.csv, writes parity-ulps.svg)
set terminal svg size 720,440 dynamic enhanced font 'Helvetica,12' background rgb 'white'
set output 'parity-ulps.svg'
set datafile separator ','
set key autotitle columnhead
set title "GPU-vs-CPU parity: error in ulps"
set logscale y
set format y '10^{%L}'
set xlabel 'comparison (sorted by maximum)'
set ylabel 'difference (ulps)'
set key top left
set grid
plot 'parity-ulps.csv' using 1:2 with points pt 7 ps 0.5 title 'median', \
     '' using 1:3 with points pt 5 ps 0.5 title '99th percentile', \
     '' using 1:4 with lines lw 2 title 'maximum'
