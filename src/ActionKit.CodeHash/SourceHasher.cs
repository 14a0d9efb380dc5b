using System.Security.Cryptography;
using System.Text;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;

namespace ActionKit.CodeHash;

/// <summary>
/// SHA-256 of what a source file tells the compiler. For C# that is its tokens, without trivia: comments (documentation
/// comments included), whitespace, line endings and preprocessor lines do not count, so editing them changes no hash.
/// </summary>
public static class SourceHasher
{
    /// <summary>The hash of a parsed C# file's tokens, each one's text followed by a line feed.</summary>
    public static string HashCSharp(SyntaxNode root)
    {
        var tokens = new StringBuilder();
        foreach (var token in root.DescendantTokens())
            tokens.Append(token.Text).Append('\n');
        return Sha256(tokens.ToString());
    }

    /// <summary>The hash of C# source text, parsed with <paramref name="options"/> (the default: no preprocessor symbols).</summary>
    public static string HashCSharp(string source, CSharpParseOptions? options = null) =>
        HashCSharp(CSharpSyntaxTree.ParseText(source, options).GetRoot());

    /// <summary>The hash of another source file (a .proto), its line endings made '\n' so a Windows checkout hashes alike.</summary>
    public static string HashText(string text) => Sha256(text.Replace("\r\n", "\n"));

    private static string Sha256(string text)
    {
        using var sha = SHA256.Create();
        byte[] hash = sha.ComputeHash(Encoding.UTF8.GetBytes(text));
        var hex = new StringBuilder(hash.Length * 2);
        foreach (byte b in hash)
            hex.Append(b.ToString("x2", System.Globalization.CultureInfo.InvariantCulture));
        return hex.ToString();
    }
}
