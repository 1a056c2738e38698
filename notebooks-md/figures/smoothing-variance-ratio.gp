# S1: smoothing divides the variance of log σ² by M — observed variance ratio with a 95% interval (F, normal theory), T = 64, 4,000 windows per M; the line is the claim, ratio = M
# Re-plot: gnuplot smoothing-variance-ratio.gp   (reads smoothing-variance-ratio.csv, writes smoothing-variance-ratio.svg)
set terminal svg size 720,440 dynamic enhanced font 'Helvetica,12' background rgb 'white'
set output 'smoothing-variance-ratio.svg'
set datafile separator ','
set key autotitle columnhead
set title "S1: smoothing divides the variance of log σ² by M"
set xlabel 'window M'
set ylabel 'Var(log σ²) / Var(log σ̂²)'
set key top left
set grid
set xrange [0:17]
set yrange [0:18]
plot x with lines lw 1 dt 2 title 'claim: ratio = M', \
     'smoothing-variance-ratio.csv' using 1:2:3:4 with yerrorbars pt 7 ps 0.7 title 'observed (95% interval)'
