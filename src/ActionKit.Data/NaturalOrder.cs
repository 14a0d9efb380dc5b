namespace ActionKit.Data;

/// <summary>Orders names the way people count: digit runs compare as numbers, so Video_2 comes before Video_10.</summary>
public sealed class NaturalOrder : IComparer<string>
{
    public static NaturalOrder Instance { get; } = new();

    public int Compare(string? x, string? y)
    {
        if (x is null || y is null)
        {
            return x is null ? (y is null ? 0 : -1) : 1;
        }
        int i = 0, j = 0;
        while (i < x.Length && j < y.Length)
        {
            int order = char.IsAsciiDigit(x[i]) && char.IsAsciiDigit(y[j])
                ? CompareNumbers(x, ref i, y, ref j)
                : x[i++].CompareTo(y[j++]);
            if (order != 0)
            {
                return order;
            }
        }
        int lengthOrder = (x.Length - i).CompareTo(y.Length - j);
        return lengthOrder != 0 ? lengthOrder : string.CompareOrdinal(x, y);
    }

    // Compares the digit runs starting at i and j by value (any length), then advances past them.
    private static int CompareNumbers(string x, ref int i, string y, ref int j)
    {
        ReadOnlySpan<char> a = TakeDigits(x, ref i).TrimStart('0');
        ReadOnlySpan<char> b = TakeDigits(y, ref j).TrimStart('0');
        return a.Length != b.Length ? a.Length.CompareTo(b.Length) : a.SequenceCompareTo(b);
    }

    private static ReadOnlySpan<char> TakeDigits(string s, ref int index)
    {
        int start = index;
        while (index < s.Length && char.IsAsciiDigit(s[index]))
        {
            index++;
        }
        return s.AsSpan(start, index - start);
    }
}
