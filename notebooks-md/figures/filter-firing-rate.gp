# How often the filter fires against spike size — share of trials where the filter skipped the measured step, with 95% Clopper–Pearson intervals; 64 tokens, 4 channels; factor 1 is no spike
# Re-plot: gnuplot filter-firing-rate.gp   (reads filter-firing-rate.csv, writes filter-firing-rate.svg)
set terminal svg size 720,440 dynamic enhanced font 'Helvetica,12' background rgb 'white'
set output 'filter-firing-rate.svg'
set datafile separator ','
set key autotitle columnhead
set title "How often the filter fires against spike size"
set logscale x
set xlabel 'spike factor (activations of the measured step multiplied by it)'
set ylabel 'filter fired (%)'
set yrange [-5:105]
set key outside right top font ',9'
set grid
plot 'filter-firing-rate.csv' using 1:2:3:4 with yerrorlines pt 7 ps 0.6 title 'authors, M = 2', \
     'filter-firing-rate.csv' using 1:5:6:7 with yerrorlines pt 7 ps 0.6 title 'authors, M = 4', \
     'filter-firing-rate.csv' using 1:8:9:10 with yerrorlines pt 7 ps 0.6 title 'authors, M = 8', \
     'filter-firing-rate.csv' using 1:11:12:13 with yerrorlines pt 7 ps 0.6 title 'paper, M = 2', \
     'filter-firing-rate.csv' using 1:14:15:16 with yerrorlines pt 7 ps 0.6 title 'paper, M = 4', \
     'filter-firing-rate.csv' using 1:17:18:19 with yerrorlines pt 7 ps 0.6 title 'paper, M = 8'
