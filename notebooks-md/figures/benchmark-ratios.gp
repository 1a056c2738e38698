# Kernel speed as a share of a memory copy (Float, 8×197×768) — median ratio of bytes per second to a memory copy of the same bytes in the same run; the dashes are the targets; torch has no UN kernel
# Re-plot: gnuplot benchmark-ratios.gp   (reads benchmark-ratios.csv, writes benchmark-ratios.svg)
set terminal svg size 720,440 dynamic enhanced font 'Helvetica,12' background rgb 'white'
set output 'benchmark-ratios.svg'
set datafile separator ','
set key autotitle columnhead
set title "Kernel speed as a share of a memory copy (Float, 8×197×768)"
set terminal svg size 980,460 dynamic enhanced font 'Helvetica,11' background rgb 'white'
set output 'benchmark-ratios.svg'
set style data histogram
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set boxwidth 0.9
set ylabel 'ratio to a memory copy'
set yrange [0:1.3]
set xtics ("LayerNorm forward (inference)" 0, "LayerNorm forward (inference), output reused" 1, "LayerNorm training forward + backward" 2, "LayerNorm training forward + backward, buffers reused" 3, "RMSNorm forward (inference)" 4, "RMSNorm forward (inference), output reused" 5, "RMSNorm training forward + backward, buffers reused" 6, "UN inference map (per-channel affine)" 7, "UN inference map (per-channel affine), output reused" 8, "UN training forward + backward" 9, "UN training forward + backward, buffers reused" 10) rotate by -20 font ',9'
set key top right
set grid ytics
plot for [i=2:5] 'benchmark-ratios.csv' using i title columnhead(i), \
     'benchmark-ratios.csv' using ($1):6 with points pt 6 ps 1.4 lc rgb 'black' title 'target'
