namespace ActionKit.Data.Synthetic;

/// <summary>Outline of a synthetic object; every shape is mirror-symmetric left to right.</summary>
internal enum Shape
{
    Rectangle,
    Ellipse,
    Diamond,
    TriangleUp,
    TriangleDown,
}

/// <summary>Surface pattern of a synthetic object, drawn in the object's own coordinates.</summary>
internal enum Texture
{
    Solid,
    Stripes,
    Checker,
}

/// <summary>Where an object is in one frame: centre and half extents, in pixels.</summary>
internal readonly record struct Placement(double X, double Y, double HalfWidth, double HalfHeight);

/// <summary>How an object looks, independent of where it is: shape, aspect ratio, colour and a texture that
/// moves and scales with the object. Coordinates (u, v) run from -1 to 1 across the object.</summary>
internal sealed record ObjectLook(Shape Shape, double Aspect, double Red, double Green, double Blue,
    Texture Texture, double TextureAngle, double TextureFrequency, double TextureAmplitude)
{
    private readonly double _stripeX = Math.Cos(TextureAngle);
    private readonly double _stripeY = Math.Sin(TextureAngle);

    /// <summary>A random look brighter than a background of grey level <paramref name="backgroundLevel"/>: a grey
    /// 90-140 levels above it with a slight tint, so objects keep one contrast polarity in every video. Mixed
    /// polarity makes a moving edge's direction ambiguous to a small network (the reverse-phi effect).</summary>
    public static ObjectLook Sample(Xoshiro256 rng, double backgroundLevel)
    {
        double level = Math.Min(backgroundLevel + rng.Uniform(90, 140), 230);
        return new ObjectLook(
            Shape: (Shape)rng.NextInt(5),
            Aspect: rng.Uniform(0.8, 1.25),
            Red: level + rng.Uniform(-15, 15),
            Green: level + rng.Uniform(-15, 15),
            Blue: level + rng.Uniform(-15, 15),
            Texture: (Texture)rng.NextInt(3),
            TextureAngle: rng.Uniform(0, Math.PI),
            TextureFrequency: rng.Uniform(1.5, 3.0),
            TextureAmplitude: rng.Uniform(8, 20));
    }

    /// <summary>The placement of this object for a centre and a size (the side of a square of equal area).</summary>
    public Placement Place(double x, double y, double size)
    {
        double root = Math.Sqrt(Aspect);
        return new Placement(x, y, size / 2 * root, size / 2 / root);
    }

    public bool Contains(double u, double v) => Shape switch
    {
        Shape.Rectangle => Math.Abs(u) <= 1 && Math.Abs(v) <= 1,
        Shape.Ellipse => u * u + v * v <= 1,
        Shape.Diamond => Math.Abs(u) + Math.Abs(v) <= 1,
        Shape.TriangleUp => Math.Abs(v) <= 1 && Math.Abs(u) <= (v + 1) / 2,
        _ => Math.Abs(v) <= 1 && Math.Abs(u) <= (1 - v) / 2,
    };

    /// <summary>Brightness offset of the texture at (u, v), added to every channel.</summary>
    public double TextureAt(double u, double v) => Texture switch
    {
        Texture.Stripes => TextureAmplitude
            * Math.Sin(Math.PI * TextureFrequency * (u * _stripeX + v * _stripeY)),
        Texture.Checker => TextureAmplitude
            * (Math.Sin(Math.PI * TextureFrequency * u) * Math.Sin(Math.PI * TextureFrequency * v) >= 0 ? 1 : -1),
        _ => 0,
    };

    /// <summary>Blends this object over an interleaved RGB float canvas, with 2x2 supersampled edge coverage.</summary>
    public void Paint(float[] canvas, int width, int height, Placement at)
    {
        int x0 = Math.Max(0, (int)Math.Floor(at.X - at.HalfWidth));
        int x1 = Math.Min(width - 1, (int)Math.Ceiling(at.X + at.HalfWidth));
        int y0 = Math.Max(0, (int)Math.Floor(at.Y - at.HalfHeight));
        int y1 = Math.Min(height - 1, (int)Math.Ceiling(at.Y + at.HalfHeight));
        for (int py = y0; py <= y1; py++)
        {
            for (int px = x0; px <= x1; px++)
            {
                double coverage = Coverage(px, py, at);
                if (coverage == 0)
                {
                    continue;
                }
                double u = (px + 0.5 - at.X) / at.HalfWidth, v = (py + 0.5 - at.Y) / at.HalfHeight;
                double shade = TextureAt(u, v);
                int i = (py * width + px) * 3;
                canvas[i] += (float)(coverage * (Red + shade - canvas[i]));
                canvas[i + 1] += (float)(coverage * (Green + shade - canvas[i + 1]));
                canvas[i + 2] += (float)(coverage * (Blue + shade - canvas[i + 2]));
            }
        }
    }

    private double Coverage(int px, int py, Placement at)
    {
        int inside = 0;
        for (int sy = 0; sy < 2; sy++)
        {
            for (int sx = 0; sx < 2; sx++)
            {
                double u = (px + 0.25 + 0.5 * sx - at.X) / at.HalfWidth;
                double v = (py + 0.25 + 0.5 * sy - at.Y) / at.HalfHeight;
                inside += Contains(u, v) ? 1 : 0;
            }
        }
        return inside / 4.0;
    }
}
