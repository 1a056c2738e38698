# G5: deviation of each backward from the gradient of its forward — log₁₀ of max|backward − numerical| / max|numerical| for ∂X; blank: that combination not run
# Re-plot: gnuplot gradient-map.gp   (reads gradient-map.csv, writes gradient-map.svg)
set terminal svg size 720,440 dynamic enhanced font 'Helvetica,12' background rgb 'white'
set output 'gradient-map.svg'
set datafile separator ','
set key autotitle columnhead
set title "G5: deviation of each backward from the gradient of its forward"
set terminal svg size 900,512 dynamic enhanced font 'Helvetica,11' background rgb 'white'
set output 'gradient-map.svg'
set xrange [-0.5:3.5]
set yrange [-0.5:15.5]
set xtics ("Double" 0, "Double, padded" 1, "Float" 2, "Float, padded" 3) font ',9'
set ytics ("LayerNorm: per token" 0, "RMSNorm: per token" 1, "BatchNorm: training" 2, "PowerNorm: warm-up" 3, "PowerNorm: after warm-up" 4, "UN (reference-compatible): warm-up" 5, "UN (paper, calibrated gradient): warm-up" 6, "UN (paper, exact gradient): warm-up" 7, "UN (reference-compatible): smoothed" 8, "UN (paper, calibrated gradient): smoothed" 9, "UN (paper, exact gradient): smoothed" 10, "UN (paper, calibrated gradient): skip (window 1)" 11, "UN (paper, exact gradient): skip (window 1)" 12, "UN (reference-compatible): skip (filtration)" 13, "UN (reference-compatible): skip (window 1)" 14, "UN (reference-compatible): smoothed, r ≠ 1 (t > 1000)" 15) font ',9'
set cbrange [-17:0]
set cblabel 'log10 deviation'
set palette defined (-17 '#f7fbff', -8 '#6baed6', -3 '#fd8d3c', 0 '#a50f15')
set lmargin 46
unset key
plot 'gradient-map.csv' using 1:2:3 with image pixels
