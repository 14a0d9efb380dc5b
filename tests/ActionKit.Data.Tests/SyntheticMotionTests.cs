using ActionKit.Data.Synthetic;

namespace ActionKit.Data.Tests;

/// <summary>Checks that the synthetic classes differ only in motion: visible in any clip window, reversed
/// pairs mirror each other in time, frames alone do not reveal the class, and no class prefers left or right.</summary>
public sealed class SyntheticMotionTests
{
    private static readonly SyntheticOptions Options = new();
    private const int WindowSpan = 14; // first to last frame of an 8-frame clip at interval 2
    private const int FramesForLeftRight = 24;

    private static int ClassIndex(string name) => SyntheticDataset.ClassNames.ToList().IndexOf(name);

    private static IEnumerable<SyntheticScene> Scenes(string className, int count) =>
        Enumerable.Range(0, count).Select(i => SyntheticDataset.CreateScene(Options, ClassIndex(className), i));

    private static double CentreX(Placement[] actors) => (actors[0].X + actors[1].X) / 2;

    private static double CentreY(Placement[] actors) => (actors[0].Y + actors[1].Y) / 2;

    private static double Size(Placement[] actors) => 2 * Math.Sqrt(actors[0].HalfWidth * actors[0].HalfHeight);

    private static double Separation(Placement[] actors) => actors[1].X - actors[0].X;

    [Fact]
    public void EveryClipWindowShowsTheClassMotion()
    {
        foreach (string name in SyntheticDataset.ClassNames)
        {
            foreach (SyntheticScene scene in Scenes(name, 12))
            {
                Placement[][] track = [.. Enumerable.Range(0, scene.FrameCount).Select(scene.ActorPlacements)];
                for (int start = 0; start + WindowSpan < track.Length; start++)
                {
                    Placement[][] window = track[start..(start + WindowSpan + 1)];
                    Placement[] first = window[0], last = window[^1];
                    double sizeRatio = Size(last) / Size(first);
                    double shakeRange = window.Max(CentreX) - window.Min(CentreX);
                    (bool ok, string what) = name switch
                    {
                        "move_up" => (CentreY(first) - CentreY(last) >= 15, "rises >= 15 px"),
                        "move_down" => (CentreY(last) - CentreY(first) >= 15, "falls >= 15 px"),
                        "grow" => (sizeRatio >= 1.55, "grows >= 55 %"),
                        "shrink" => (sizeRatio <= 1 / 1.55, "shrinks >= 55 %"),
                        "apart" => (Separation(last) - Separation(first) >= 28, "separates >= 28 px"),
                        "together" => (Separation(first) - Separation(last) >= 28, "closes >= 28 px"),
                        "shake" => (shakeRange >= 5, "shakes >= 5 px peak to peak"),
                        _ => (shakeRange < 2.5 && Math.Abs(CentreY(last) - CentreY(first)) < 2.5
                              && sizeRatio == 1, "stays still"),
                    };
                    Assert.True(ok, $"{name}: window at frame {start} of a {track.Length}-frame video: expected it {what}");
                }
            }
        }
    }

    [Theory]
    [InlineData("move_up", "move_down")]
    [InlineData("grow", "shrink")]
    [InlineData("apart", "together")]
    public void ReversedClassIsTheForwardMotionPlayedBackwards(string forward, string reversed)
    {
        Assert.Contains((forward, reversed), SyntheticDataset.ReversedPairs);
        Func<Placement[], double> quantity = forward switch
        {
            "move_up" => CentreY,
            "grow" => actors => Math.Log(Size(actors)),
            _ => Separation,
        };
        double forwardRate = Scenes(forward, 40).Average(scene => Slope(scene, quantity));
        double reversedRate = Scenes(reversed, 40).Average(scene => Slope(scene, quantity));
        Assert.True(forwardRate * reversedRate < 0, $"rates {forwardRate} and {reversedRate} should have opposite signs");
        Assert.InRange(-reversedRate / forwardRate, 0.9, 1.1);
    }

    [Fact]
    public void PixelMotionOfMoveUpMirrorsMoveDown()
    {
        double up = Scenes("move_up", 8).Select(Render).Average(frames => MotionVelocity(frames, vertical: true));
        double down = Scenes("move_down", 8).Select(Render).Average(frames => MotionVelocity(frames, vertical: true));
        Assert.True(up < -0.2 && down > 0.2, $"vertical motion-centroid velocity: move_up {up}, move_down {down}");
        Assert.InRange(-down / up, 0.6, 1.6);
    }

    [Fact]
    public void ActorSizeOfASingleFrameDoesNotRevealTheClass()
    {
        AssertSameDistribution((scene, frame) => Size(scene.ActorPlacements(frame)), videosPerClass: 100);
    }

    [Fact]
    public void ActorPositionOfASingleFrameDoesNotRevealTheClass()
    {
        AssertSameDistribution((scene, frame) => CentreY(scene.ActorPlacements(frame)), videosPerClass: 100);
        AssertSameDistribution((scene, frame) => Separation(scene.ActorPlacements(frame)), videosPerClass: 100);
    }

    [Fact]
    public void BrightnessOfASingleFrameDoesNotRevealTheClass()
    {
        AssertSameDistribution((scene, frame) => scene.Render(frame).Pixels.Average(p => (double)p),
            videosPerClass: 40);
    }

    /// <summary>Actors keep one contrast polarity (brighter than the background) in every video of every class.</summary>
    [Fact]
    public void ActorsAreBrighterThanTheirSurroundings()
    {
        foreach (string name in SyntheticDataset.ClassNames)
        {
            foreach (SyntheticScene scene in Scenes(name, 10))
            {
                RgbFrame frame = scene.Render(0);
                Placement[] actors = scene.ActorPlacements(0);
                // The inner box |u| <= 0.25, |v| <= 0.5 lies inside every shape.
                bool InActor(int x, int y, Placement at, double scale) =>
                    Math.Abs(x + 0.5 - at.X) <= scale * 0.5 * at.HalfWidth && Math.Abs(y + 0.5 - at.Y) <= scale * at.HalfHeight;
                var inside = new List<double>();
                var outside = new List<double>();
                for (int y = 0; y < frame.Height; y++)
                {
                    for (int x = 0; x < frame.Width; x++)
                    {
                        double grey = (frame.Pixels[(y * frame.Width + x) * 3] + frame.Pixels[(y * frame.Width + x) * 3 + 1]
                            + frame.Pixels[(y * frame.Width + x) * 3 + 2]) / 3.0;
                        if (actors.Any(at => InActor(x, y, at, 0.5)))
                        {
                            inside.Add(grey);
                        }
                        else if (!actors.Any(at => InActor(x, y, at, 2.5)))
                        {
                            outside.Add(grey);
                        }
                    }
                }
                Assert.True(inside.Average() > outside.Average() + 40,
                    $"{name}: actors average {inside.Average():F0}, the rest of the frame {outside.Average():F0}");
            }
        }
    }

    [Fact]
    public void NoClassPrefersLeftOrRight()
    {
        foreach (string name in SyntheticDataset.ClassNames)
        {
            List<RgbFrame[]> videos = [.. Scenes(name, 12).Select(scene => Render(scene, FramesForLeftRight))];
            AssertCentredOnZero(name + " horizontal motion velocity", videos.Select(v => MotionVelocity(v, vertical: false)));
            AssertCentredOnZero(name + " horizontal motion position", videos.Select(MotionOffsetFromCentre));
        }
    }

    /// <summary>The statistics of <see cref="NoClassPrefersLeftOrRight"/> must flag a class with a rightward bias.</summary>
    [Fact]
    public void LeftRightCheckDetectsAnObjectMovingRight()
    {
        List<RgbFrame[]> videos = [.. Scenes("still", 12).Select(scene => AddSquareMovingRight(Render(scene, FramesForLeftRight)))];
        double[] velocity = [.. videos.Select(v => MotionVelocity(v, vertical: false))];
        double[] position = [.. videos.Select(MotionOffsetFromCentre)];
        Assert.True(velocity.Average() > 4 * StandardError(velocity), $"velocity {velocity.Average()}");
        Assert.True(position.Average() > 4 * StandardError(position), $"position {position.Average()}");
    }

    private static RgbFrame[] Render(SyntheticScene scene, int maxFrames = int.MaxValue) =>
        [.. Enumerable.Range(0, Math.Min(maxFrames, scene.FrameCount)).Select(scene.Render)];

    private static double Slope(SyntheticScene scene, Func<Placement[], double> quantity)
    {
        int n = scene.FrameCount;
        double[] values = [.. Enumerable.Range(0, n).Select(t => quantity(scene.ActorPlacements(t)))];
        double meanT = (n - 1) / 2.0, meanV = values.Average();
        double covariance = Enumerable.Range(0, n).Sum(t => (t - meanT) * (values[t] - meanV));
        double variance = Enumerable.Range(0, n).Sum(t => (t - meanT) * (t - meanT));
        return covariance / variance;
    }

    // Motion energy of a frame pair: per-pixel absolute difference summed over channels, noise floor removed.
    private static double[] MotionEnergy(RgbFrame a, RgbFrame b)
    {
        var energy = new double[a.Width * a.Height];
        for (int i = 0; i < energy.Length; i++)
        {
            int sum = 0;
            for (int c = 0; c < 3; c++)
            {
                sum += Math.Abs(a.Pixels[i * 3 + c] - b.Pixels[i * 3 + c]);
            }
            energy[i] = Math.Max(0, sum - 40);
        }
        return energy;
    }

    private static double? Centroid(double[] energy, int width, bool vertical)
    {
        double total = 0, moment = 0;
        for (int i = 0; i < energy.Length; i++)
        {
            total += energy[i];
            moment += energy[i] * (vertical ? i / width : i % width);
        }
        return total > 0 ? moment / total : null;
    }

    /// <summary>Mean frame-to-frame velocity of the motion-energy centroid (pixels per frame).</summary>
    private static double MotionVelocity(RgbFrame[] frames, bool vertical)
    {
        double?[] centroids = [.. frames.Zip(frames.Skip(1), (a, b) => Centroid(MotionEnergy(a, b), a.Width, vertical))];
        double[] steps = [.. centroids.Zip(centroids.Skip(1), (p, q) => p is double x && q is double y ? y - x : double.NaN)
            .Where(step => !double.IsNaN(step))];
        return steps.Length == 0 ? 0 : steps.Average();
    }

    /// <summary>Mean horizontal motion-energy centroid relative to the frame centre, in pixels.</summary>
    private static double MotionOffsetFromCentre(RgbFrame[] frames)
    {
        double[] offsets = [.. frames.Zip(frames.Skip(1), (a, b) => Centroid(MotionEnergy(a, b), a.Width, vertical: false))
            .OfType<double>().Select(x => x + 0.5 - frames[0].Width / 2.0)];
        return offsets.Length == 0 ? 0 : offsets.Average();
    }

    private static RgbFrame[] AddSquareMovingRight(RgbFrame[] frames) =>
    [
        .. frames.Select((frame, t) =>
        {
            byte[] pixels = (byte[])frame.Pixels.Clone();
            int left = frame.Width / 2 + t % (frame.Width / 2 - 12);
            for (int y = 20; y < 32; y++)
            {
                pixels.AsSpan((y * frame.Width + left) * 3, 12 * 3).Fill(250);
            }
            return new RgbFrame(frame.Width, frame.Height, pixels);
        }),
    ];

    private static double StandardError(double[] values)
    {
        double mean = values.Average();
        return Math.Sqrt(values.Sum(v => (v - mean) * (v - mean)) / (values.Length - 1) / values.Length);
    }

    private static void AssertCentredOnZero(string what, IEnumerable<double> samples)
    {
        double[] values = [.. samples];
        Assert.True(Math.Abs(values.Average()) <= 4 * StandardError(values),
            $"{what}: mean {values.Average():F3} is more than 4 standard errors ({StandardError(values):F3}) from 0");
    }

    /// <summary>Two-sample Kolmogorov-Smirnov test of each class against all others at significance 0.001, on a
    /// statistic of one random frame per video.</summary>
    private static void AssertSameDistribution(Func<SyntheticScene, int, double> statistic, int videosPerClass)
    {
        var rng = new Xoshiro256(7);
        double[][] byClass =
        [
            .. SyntheticDataset.ClassNames.Select(name =>
                Scenes(name, videosPerClass).Select(scene => statistic(scene, rng.NextInt(scene.FrameCount))).ToArray()),
        ];
        for (int c = 0; c < byClass.Length; c++)
        {
            double[] rest = [.. byClass.Where((_, other) => other != c).SelectMany(values => values)];
            int n = byClass[c].Length, m = rest.Length;
            double critical = 1.95 * Math.Sqrt((n + m) / (double)(n * m));
            double distance = KolmogorovSmirnov(byClass[c], rest);
            Assert.True(distance < critical,
                $"{SyntheticDataset.ClassNames[c]}: KS distance {distance:F3} to the other classes exceeds {critical:F3}");
        }
    }

    private static double KolmogorovSmirnov(double[] a, double[] b)
    {
        double[] x = [.. a.Order()], y = [.. b.Order()];
        int i = 0, j = 0;
        double distance = 0;
        while (i < x.Length && j < y.Length)
        {
            double value = Math.Min(x[i], y[j]);
            while (i < x.Length && x[i] <= value) i++;
            while (j < y.Length && y[j] <= value) j++;
            distance = Math.Max(distance, Math.Abs(i / (double)x.Length - j / (double)y.Length));
        }
        return distance;
    }
}
