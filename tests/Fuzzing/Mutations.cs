using System.Text;
using System.Text.RegularExpressions;

namespace ActionKit.Fuzzing;

/// <summary>One way to damage a valid file: a name for failure messages and a function of the file's bytes and the
/// case's random source that returns the damaged bytes.</summary>
internal sealed record Mutation(string Kind, Func<byte[], Random, byte[]> Apply);

/// <summary>The mutation kinds every reader's corpus draws from (see README, "Reliability").</summary>
internal static partial class Mutations
{
    /// <summary>Numbers a damaged size or count field takes: past every int and long, negative, zero, and
    /// large enough to make a reader allocate gigabytes if it believed them.</summary>
    private static readonly string[] HugeNumbers =
        ["2147483647", "2147483648", "4294967297", "9223372036854775807", "99999999999999999999", "60000", "-1", "0"];

    private static readonly int[] FieldWidths = [2, 4, 8];

    private static readonly long[] HugeFields = [int.MaxValue, uint.MaxValue, int.MinValue, 60000, -1, long.MaxValue];

    /// <summary>Cuts the file at a random point (possibly to nothing).</summary>
    public static readonly Mutation Truncate = new("truncate", (bytes, random) => bytes[..random.Next(bytes.Length)]);

    /// <summary>Changes one to eight bytes at random places to random values.</summary>
    public static readonly Mutation FlipBytes = new("flip bytes", (bytes, random) =>
    {
        byte[] copy = (byte[])bytes.Clone();
        for (int i = random.Next(1, 9); i > 0 && copy.Length > 0; i--)
        {
            copy[random.Next(copy.Length)] ^= (byte)random.Next(1, 256);
        }
        return copy;
    });

    /// <summary>Replaces a decimal number in the text (a size, count, shape, offset or line field) with a huge,
    /// negative or zero one.</summary>
    public static readonly Mutation InflateNumber = new("inflate number", (bytes, random) =>
    {
        string text = Encoding.Latin1.GetString(bytes);
        MatchCollection numbers = Digits().Matches(text);
        if (numbers.Count == 0)
        {
            return bytes;
        }
        Match number = numbers[random.Next(numbers.Count)];
        string replacement = HugeNumbers[random.Next(HugeNumbers.Length)];
        return Encoding.Latin1.GetBytes(text[..number.Index] + replacement + text[(number.Index + number.Length)..]);
    });

    /// <summary>Overwrites 2, 4 or 8 bytes at a random place with a huge or negative integer, little- or big-endian
    /// (a binary size or count field).</summary>
    public static readonly Mutation InflateField = new("inflate field", (bytes, random) =>
    {
        int width = FieldWidths[random.Next(FieldWidths.Length)];
        if (bytes.Length < width)
        {
            return bytes;
        }
        byte[] copy = (byte[])bytes.Clone();
        byte[] value = BitConverter.GetBytes(HugeFields[random.Next(HugeFields.Length)]);
        if (random.Next(2) == 0)
        {
            Array.Reverse(value, 0, width);
        }
        value.AsSpan(0, width).CopyTo(copy.AsSpan(random.Next(copy.Length - width + 1)));
        return copy;
    });

    /// <summary>Repeats a random line once.</summary>
    public static readonly Mutation DuplicateLine = new("duplicate line", (bytes, random) =>
    {
        List<string> lines = Lines(bytes);
        int line = random.Next(lines.Count);
        lines.Insert(line, lines[line]);
        return Join(lines);
    });

    /// <summary>Removes a random line.</summary>
    public static readonly Mutation DropLine = new("drop line", (bytes, random) =>
    {
        List<string> lines = Lines(bytes);
        lines.RemoveAt(random.Next(lines.Count));
        return Join(lines);
    });

    /// <summary>The kinds for a text format.</summary>
    public static readonly Mutation[] Text = [Truncate, FlipBytes, InflateNumber, DuplicateLine, DropLine];

    /// <summary>The kinds for a binary format.</summary>
    public static readonly Mutation[] Binary = [Truncate, FlipBytes, InflateField];

    private static List<string> Lines(byte[] bytes) => [.. Encoding.Latin1.GetString(bytes).Split('\n')];

    private static byte[] Join(List<string> lines) => Encoding.Latin1.GetBytes(string.Join('\n', lines));

    [GeneratedRegex("[0-9]+")]
    private static partial Regex Digits();
}
