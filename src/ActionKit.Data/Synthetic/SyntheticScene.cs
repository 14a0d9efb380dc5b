namespace ActionKit.Data.Synthetic;

/// <summary>The motion that tells a synthetic class apart.</summary>
internal enum Motion
{
    MoveUp,
    Grow,
    Apart,
    Shake,
    Still,
}

/// <summary>A value moving linearly over a video and staying inside its range for every frame.</summary>
internal readonly record struct LinearTrack(double Start, double Rate)
{
    public double At(double time) => Start + Rate * time;

    /// <summary>A rate between the bounds (lowered only when a long video would leave the range) and a
    /// uniformly random start that keeps the whole path in [min, max].</summary>
    public static LinearTrack Sample(Xoshiro256 rng, (double Min, double Max) range, (double Min, double Max) rate,
        int frameCount, bool increasing)
    {
        double span = range.Max - range.Min;
        double speed = Math.Min(rng.Uniform(rate.Min, rate.Max), span / Math.Max(1, frameCount - 1));
        double travel = speed * (frameCount - 1);
        double start = rng.Uniform(range.Min, range.Max - travel);
        return increasing ? new LinearTrack(start, speed) : new LinearTrack(start + travel, -speed);
    }
}

/// <summary>One synthetic video: a textured background, a pair of actor objects whose motion is the class, small
/// distractors drifting at random, a brightness gain and pixel noise. Every class samples every quantity the same
/// way; only the class's own motion keeps moving, the other tracks are frozen at a random time, so a single frame
/// of any class is drawn from the same distribution. A reversed class renders its partner's scene backwards.
/// Geometry is in pixels of a 96x72 frame, scaled by <c>unit</c> for other sizes.</summary>
internal sealed class SyntheticScene
{
    private const int ActorCount = 2;

    private readonly int _width;
    private readonly int _height;
    private readonly bool _reversed;
    private readonly ulong _seed;
    private readonly float[] _background;
    private readonly double _gain;
    private readonly double _noiseSigma;
    private readonly double _jitterSigma;
    private readonly LinearTrack _vertical;
    private readonly LinearTrack _logSize;
    private readonly LinearTrack _separation;
    private readonly (double Amplitude, double Period, double Phase, double? FrozenAt) _shake;
    private readonly double _pairCentre;
    private readonly bool _rightOnTop;
    private readonly (ObjectLook Look, double Scale, double OffsetY)[] _actors;
    private readonly (ObjectLook Look, double Size, double X, double Y, double VelocityX, double VelocityY)[] _distractors;

    public SyntheticScene(int width, int height, (int Min, int Max) frames, Motion motion, bool reversed, ulong seed)
    {
        var rng = new Xoshiro256(seed);
        (_width, _height, _reversed, _seed) = (width, height, reversed, seed);
        double unit = Math.Min(width / 96.0, height / 72.0);
        FrameCount = rng.NextIntInclusive(frames.Min, frames.Max);
        (_background, double backgroundLevel) = SampleBackground(rng, unit);
        _gain = rng.Uniform(0.85, 1.15);
        _noiseSigma = rng.Uniform(2, 6);
        _jitterSigma = 0.3 * unit;
        // Speeds give >= 15 px, >= 28 px of separation or >= 55 % size change across any 15-frame span (a clip of 8 frames at interval 2)
        // for videos of up to 32 frames; longer videos move more slowly so the motion stays inside the frame.
        _vertical = Track(rng, (height / 2.0 - 24 * unit, height / 2.0 + 24 * unit), (1.15 * unit, 1.5 * unit),
            increasing: false, moving: motion == Motion.MoveUp);
        _logSize = Track(rng, (Math.Log(8 * unit), Math.Log(28 * unit)), (0.034, 0.04),
            increasing: true, moving: motion == Motion.Grow);
        _separation = Track(rng, (4 * unit, 72 * unit), (2.2 * unit, 2.6 * unit),
            increasing: true, moving: motion == Motion.Apart);
        double amplitude = rng.Uniform(4 * unit, 7 * unit), period = rng.Uniform(5, 7);
        double phase = rng.Uniform(0, 2 * Math.PI), shakeFrozenAt = rng.Uniform(0, FrameCount - 1);
        _shake = (amplitude, period, phase, motion == Motion.Shake ? null : shakeFrozenAt);
        _pairCentre = width / 2.0 + rng.Uniform(-2 * unit, 2 * unit);
        _rightOnTop = rng.NextInt(2) == 1;
        _actors = new (ObjectLook, double, double)[ActorCount];
        for (int i = 0; i < ActorCount; i++)
        {
            _actors[i] = (ObjectLook.Sample(rng, backgroundLevel), rng.Uniform(0.85, 1.15), rng.Uniform(-2 * unit, 2 * unit));
        }
        _distractors = new (ObjectLook, double, double, double, double, double)[1 + rng.NextInt(2)];
        for (int i = 0; i < _distractors.Length; i++)
        {
            double speed = rng.Uniform(0, 0.5 * unit), angle = rng.Uniform(0, 2 * Math.PI);
            _distractors[i] = (ObjectLook.Sample(rng, backgroundLevel), rng.Uniform(4 * unit, 8 * unit), rng.Uniform(0, width),
                rng.Uniform(0, height), speed * Math.Cos(angle), speed * Math.Sin(angle));
        }

        LinearTrack Track(Xoshiro256 random, (double, double) range, (double, double) rate, bool increasing, bool moving)
        {
            LinearTrack track = LinearTrack.Sample(random, range, rate, FrameCount, increasing);
            double frozenAt = random.Uniform(0, FrameCount - 1);
            return moving ? track : new LinearTrack(track.At(frozenAt), 0);
        }
    }

    public int FrameCount { get; }

    /// <summary>The two actors' placements in output frame <paramref name="frame"/> (jitter included).</summary>
    public Placement[] ActorPlacements(int frame)
    {
        double time = SceneTime(frame);
        return ActorsAt(time, FrameRandom(time));
    }

    /// <summary>The bounding boxes of the two actors in output frame <paramref name="frame"/>, cut to the frame
    /// (empty for an actor wholly outside it).</summary>
    public BoundingBox[] ActorBoxes(int frame) =>
    [
        .. ActorPlacements(frame).Select(at => new BoundingBox(at.X - at.HalfWidth, at.Y - at.HalfHeight,
            at.X + at.HalfWidth, at.Y + at.HalfHeight).ClipTo(_width, _height)),
    ];

    public RgbFrame Render(int frame)
    {
        double time = SceneTime(frame);
        Xoshiro256 rng = FrameRandom(time);
        Placement[] actors = ActorsAt(time, rng);
        float[] canvas = (float[])_background.Clone();
        foreach (var distractor in _distractors)
        {
            double x = Fold(distractor.X + distractor.VelocityX * time, _width);
            double y = Fold(distractor.Y + distractor.VelocityY * time, _height);
            distractor.Look.Paint(canvas, _width, _height, distractor.Look.Place(x, y, distractor.Size));
        }
        int top = _rightOnTop ? 1 : 0;
        _actors[1 - top].Look.Paint(canvas, _width, _height, actors[1 - top]);
        _actors[top].Look.Paint(canvas, _width, _height, actors[top]);
        var pixels = new byte[canvas.Length];
        double noiseScale = _noiseSigma * Math.Sqrt(6) / 1023;
        for (int i = 0; i < canvas.Length; i += 3)
        {
            // Triangular noise of standard deviation _noiseSigma (sum of two uniforms, a cheap stand-in for
            // Gaussian): six 10-bit uniforms from one 64-bit draw serve the pixel's three channels.
            ulong bits = rng.NextUInt64();
            for (int c = 0; c < 3; c++, bits >>= 20)
            {
                double noise = noiseScale * ((double)(bits & 1023) + ((bits >> 10) & 1023) - 1023);
                pixels[i + c] = (byte)Math.Clamp(Math.Round(canvas[i + c] * _gain + noise), 0, 255);
            }
        }
        return new RgbFrame(_width, _height, pixels);
    }

    private double SceneTime(int frame) => _reversed ? FrameCount - 1 - frame : frame;

    // Jitter and noise of one scene time: the same whichever order frames are rendered in.
    private Xoshiro256 FrameRandom(double time) => new(Xoshiro256.DeriveSeed(_seed, 1, (long)time));

    private Placement[] ActorsAt(double time, Xoshiro256 rng)
    {
        double size = Math.Exp(_logSize.At(time));
        double halfSeparation = _separation.At(time) / 2;
        double shake = _shake.Amplitude * Math.Sin(2 * Math.PI * (_shake.FrozenAt ?? time) / _shake.Period + _shake.Phase);
        var placements = new Placement[ActorCount];
        for (int i = 0; i < ActorCount; i++)
        {
            (ObjectLook look, double scale, double offsetY) = _actors[i];
            double side = i == 0 ? -1 : 1;
            double x = _pairCentre + shake + side * halfSeparation + _jitterSigma * rng.Gaussian();
            double y = _vertical.At(time) + offsetY + _jitterSigma * rng.Gaussian();
            placements[i] = look.Place(x, y, size * scale);
        }
        return placements;
    }

    // Static background: a dark, slightly tinted grey plus three faint luminance gratings of random orientation,
    // period and phase. Returns the canvas and its grey level.
    private (float[] Canvas, double Level) SampleBackground(Xoshiro256 rng, double unit)
    {
        double level = rng.Uniform(30, 100);
        double[] baseColour = [level + rng.Uniform(-12, 12), level + rng.Uniform(-12, 12), level + rng.Uniform(-12, 12)];
        var gratings = new (double Amplitude, double Kx, double Ky, double Phase)[3];
        for (int g = 0; g < gratings.Length; g++)
        {
            double amplitude = rng.Uniform(3, 10), angle = rng.Uniform(0, 2 * Math.PI);
            double frequency = 2 * Math.PI / rng.Uniform(10 * unit, 48 * unit);
            gratings[g] = (amplitude, frequency * Math.Cos(angle), frequency * Math.Sin(angle), rng.Uniform(0, 2 * Math.PI));
        }
        var canvas = new float[_width * _height * 3];
        for (int y = 0; y < _height; y++)
        {
            for (int x = 0; x < _width; x++)
            {
                double shade = 0;
                foreach (var (amplitude, kx, ky, phase) in gratings)
                {
                    shade += amplitude * Math.Sin(kx * (x + 0.5) + ky * (y + 0.5) + phase);
                }
                int i = (y * _width + x) * 3;
                for (int c = 0; c < 3; c++)
                {
                    canvas[i + c] = (float)(baseColour[c] + shade);
                }
            }
        }
        return (canvas, level);
    }

    // Keeps a drifting position inside [0, extent] by reflecting off the edges.
    private static double Fold(double position, double extent)
    {
        double period = 2 * extent;
        double folded = ((position % period) + period) % period;
        return folded <= extent ? folded : period - folded;
    }
}
