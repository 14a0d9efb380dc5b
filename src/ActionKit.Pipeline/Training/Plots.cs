using ScottPlot;

namespace ActionKit.Pipeline.Training;

/// <summary>The PNG figures training and evaluation leave behind (ScottPlot renders headless).</summary>
public static class Plots
{
    /// <summary>Training loss (left axis) and training / validation accuracy (right axis) per epoch.</summary>
    public static void TrainingCurves(string path, IReadOnlyList<EpochMetrics> epochs)
    {
        var plot = new Plot();
        double[] x = [.. epochs.Select(e => (double)e.Epoch)];
        var loss = plot.Add.Scatter(x, [.. epochs.Select(e => e.TrainLoss)]);
        loss.LegendText = "train loss";
        foreach (var (name, values) in new[]
        {
            ("train accuracy", epochs.Select(e => e.TrainAccuracy)),
            ("val top-1", epochs.Select(e => e.ValTop1)),
            ("val mean class accuracy", epochs.Select(e => e.ValMeanClassAccuracy)),
        })
        {
            var series = plot.Add.Scatter(x, [.. values]);
            series.LegendText = name;
            series.Axes.YAxis = plot.Axes.Right;
        }
        plot.Axes.Bottom.Label.Text = "epoch";
        plot.Axes.Left.Label.Text = "loss";
        plot.Axes.Right.Label.Text = "accuracy";
        plot.Axes.SetLimitsY(0, 1, plot.Axes.Right);
        plot.ShowLegend(Alignment.MiddleRight);
        plot.Title("Training");
        plot.SavePng(path, 900, 560);
    }

    /// <summary>The confusion matrix as a heat map, rows = true class, columns = predicted class.</summary>
    public static void Confusion(string path, int[][] confusion, IReadOnlyList<string> labels, string title)
    {
        int n = labels.Count;
        var values = new double[n, n];
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++)
                values[i, j] = confusion[i][j];
        var plot = new Plot();
        var heatmap = plot.Add.Heatmap(values);
        heatmap.Colormap = new ScottPlot.Colormaps.Viridis();
        plot.Add.ColorBar(heatmap);
        double[] ticks = [.. Enumerable.Range(0, n).Select(i => (double)i)];
        plot.Axes.Bottom.SetTicks(ticks, [.. labels]);
        plot.Axes.Bottom.TickLabelStyle.Rotation = 45;
        plot.Axes.Bottom.TickLabelStyle.Alignment = Alignment.MiddleLeft;
        plot.Axes.Left.SetTicks([.. ticks.Select(t => n - 1 - t)], [.. labels]);
        plot.Axes.Bottom.Label.Text = "predicted";
        plot.Axes.Left.Label.Text = "true";
        // ScottPlot sizes the axis for horizontal labels; rotated ones need room for their diagonal.
        int labelRoom = 30 + (int)(7 * labels.Max(label => label.Length) * Math.Sin(Math.PI / 4));
        plot.Axes.Bottom.MinimumSize = labelRoom + 24;
        plot.Title(title);
        plot.SavePng(path, 200 + 48 * n, 160 + 48 * n + labelRoom);
    }
}
