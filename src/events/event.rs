use super::commerce::*;
use super::value::Properties;

/// Every event an app can record.
///
/// Names and property keys follow the Segment E-commerce v2 spec, so backend teams
/// recognise them. Each variant takes free-form `properties` besides its typed fields;
/// a free-form key may not repeat a typed field that is set.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "ffi", derive(uniffi::Enum))]
pub enum Event {
    ProductsSearched { query: String, properties: Properties },
    ProductListViewed { list_id: Option<String>, category: Option<String>, products: Vec<Product>, properties: Properties },
    ProductClicked { product: Product, properties: Properties },
    ProductViewed { product: Product, properties: Properties },
    ProductAdded { cart_id: Option<String>, product: Product, properties: Properties },
    ProductRemoved { cart_id: Option<String>, product: Product, properties: Properties },
    CartViewed { cart: Cart, properties: Properties },
    CheckoutStarted { order: Order, properties: Properties },
    CheckoutStepViewed { step: CheckoutStep, properties: Properties },
    CheckoutStepCompleted { step: CheckoutStep, properties: Properties },
    PaymentInfoEntered { order_id: Option<String>, step: CheckoutStep, properties: Properties },
    OrderCompleted { order: Order, properties: Properties },
    OrderUpdated { order: Order, properties: Properties },
    OrderRefunded { order: Order, properties: Properties },
    OrderCancelled { order: Order, properties: Properties },
    CouponEntered { coupon: Coupon, properties: Properties },
    CouponApplied { coupon: Coupon, properties: Properties },
    CouponDenied { coupon: Coupon, properties: Properties },
    CouponRemoved { coupon: Coupon, properties: Properties },
    PromotionViewed { promotion: Promotion, properties: Properties },
    PromotionClicked { promotion: Promotion, properties: Properties },
    ProductAddedToWishlist { wishlist_id: Option<String>, wishlist_name: Option<String>, product: Product, properties: Properties },
    ProductRemovedFromWishlist { wishlist_id: Option<String>, wishlist_name: Option<String>, product: Product, properties: Properties },
    WishlistProductAddedToCart { wishlist_id: Option<String>, wishlist_name: Option<String>, cart_id: Option<String>, product: Product, properties: Properties },
    ProductShared { product: Product, share: Share, properties: Properties },
    CartShared { cart_id: Option<String>, products: Vec<Product>, share: Share, properties: Properties },
    ProductReviewed { product_id: String, review_id: Option<String>, review_body: Option<String>, rating: Option<f64>, properties: Properties },
    /// A screen the user saw; recorded as a `screen` call, not a `track`.
    Screen { name: String, properties: Properties },
    ApplicationOpened { from_background: bool, url: Option<String>, properties: Properties },
    ApplicationBackgrounded { properties: Properties },
    PushOpened { message_id: String, campaign_id: Option<String>, properties: Properties },
    DeepLinkOpened { url: String, message_id: Option<String>, campaign_id: Option<String>, properties: Properties },
    InAppMessageShown { message_id: String, campaign_id: String, properties: Properties },
    InAppMessageClicked { message_id: String, campaign_id: String, button_id: Option<String>, properties: Properties },
    InAppMessageDismissed { message_id: String, campaign_id: String, properties: Properties },
    /// Anything outside the vocabulary. Its name may not be one of the typed names.
    Custom { name: String, properties: Properties },
}

/// The names of the typed events; a custom event may not take one of them.
pub const TYPED_EVENT_NAMES: &[&str] = &[
    "Products Searched",
    "Product List Viewed",
    "Product Clicked",
    "Product Viewed",
    "Product Added",
    "Product Removed",
    "Cart Viewed",
    "Checkout Started",
    "Checkout Step Viewed",
    "Checkout Step Completed",
    "Payment Info Entered",
    "Order Completed",
    "Order Updated",
    "Order Refunded",
    "Order Cancelled",
    "Coupon Entered",
    "Coupon Applied",
    "Coupon Denied",
    "Coupon Removed",
    "Promotion Viewed",
    "Promotion Clicked",
    "Product Added to Wishlist",
    "Product Removed from Wishlist",
    "Wishlist Product Added to Cart",
    "Product Shared",
    "Cart Shared",
    "Product Reviewed",
    "Application Opened",
    "Application Backgrounded",
    "Push Opened",
    "Deep Link Opened",
    "In-App Message Shown",
    "In-App Message Clicked",
    "In-App Message Dismissed",
];

impl Event {
    /// The event's name on the wire: the spec name, the screen name, or the custom name.
    pub fn name(&self) -> &str {
        use Event::*;
        match self {
            ProductsSearched { .. } => "Products Searched",
            ProductListViewed { .. } => "Product List Viewed",
            ProductClicked { .. } => "Product Clicked",
            ProductViewed { .. } => "Product Viewed",
            ProductAdded { .. } => "Product Added",
            ProductRemoved { .. } => "Product Removed",
            CartViewed { .. } => "Cart Viewed",
            CheckoutStarted { .. } => "Checkout Started",
            CheckoutStepViewed { .. } => "Checkout Step Viewed",
            CheckoutStepCompleted { .. } => "Checkout Step Completed",
            PaymentInfoEntered { .. } => "Payment Info Entered",
            OrderCompleted { .. } => "Order Completed",
            OrderUpdated { .. } => "Order Updated",
            OrderRefunded { .. } => "Order Refunded",
            OrderCancelled { .. } => "Order Cancelled",
            CouponEntered { .. } => "Coupon Entered",
            CouponApplied { .. } => "Coupon Applied",
            CouponDenied { .. } => "Coupon Denied",
            CouponRemoved { .. } => "Coupon Removed",
            PromotionViewed { .. } => "Promotion Viewed",
            PromotionClicked { .. } => "Promotion Clicked",
            ProductAddedToWishlist { .. } => "Product Added to Wishlist",
            ProductRemovedFromWishlist { .. } => "Product Removed from Wishlist",
            WishlistProductAddedToCart { .. } => "Wishlist Product Added to Cart",
            ProductShared { .. } => "Product Shared",
            CartShared { .. } => "Cart Shared",
            ProductReviewed { .. } => "Product Reviewed",
            ApplicationOpened { .. } => "Application Opened",
            ApplicationBackgrounded { .. } => "Application Backgrounded",
            PushOpened { .. } => "Push Opened",
            DeepLinkOpened { .. } => "Deep Link Opened",
            InAppMessageShown { .. } => "In-App Message Shown",
            InAppMessageClicked { .. } => "In-App Message Clicked",
            InAppMessageDismissed { .. } => "In-App Message Dismissed",
            Screen { name, .. } | Custom { name, .. } => name,
        }
    }

    /// The free-form properties the app attached.
    pub fn extra_properties(&self) -> &Properties {
        use Event::*;
        match self {
            ProductsSearched { properties, .. }
            | ProductListViewed { properties, .. }
            | ProductClicked { properties, .. }
            | ProductViewed { properties, .. }
            | ProductAdded { properties, .. }
            | ProductRemoved { properties, .. }
            | CartViewed { properties, .. }
            | CheckoutStarted { properties, .. }
            | CheckoutStepViewed { properties, .. }
            | CheckoutStepCompleted { properties, .. }
            | PaymentInfoEntered { properties, .. }
            | OrderCompleted { properties, .. }
            | OrderUpdated { properties, .. }
            | OrderRefunded { properties, .. }
            | OrderCancelled { properties, .. }
            | CouponEntered { properties, .. }
            | CouponApplied { properties, .. }
            | CouponDenied { properties, .. }
            | CouponRemoved { properties, .. }
            | PromotionViewed { properties, .. }
            | PromotionClicked { properties, .. }
            | ProductAddedToWishlist { properties, .. }
            | ProductRemovedFromWishlist { properties, .. }
            | WishlistProductAddedToCart { properties, .. }
            | ProductShared { properties, .. }
            | CartShared { properties, .. }
            | ProductReviewed { properties, .. }
            | Screen { properties, .. }
            | ApplicationOpened { properties, .. }
            | ApplicationBackgrounded { properties }
            | PushOpened { properties, .. }
            | DeepLinkOpened { properties, .. }
            | InAppMessageShown { properties, .. }
            | InAppMessageClicked { properties, .. }
            | InAppMessageDismissed { properties, .. }
            | Custom { properties, .. } => properties,
        }
    }
}
